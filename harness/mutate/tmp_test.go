package mutate

import (
	"fmt"
	"testing"
)

func TestTmpGen(t *testing.T) {
	for _, s := range []string{"mq", "metaclient", "duplicator", "replica", "routingtable"} {
		ms, err := Generate("../../systems/"+s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, m := range ms {
			count[m.Operator]++
			if s == "mq" {
				fmt.Printf("%s %s %s | %s -> %s\n", m.ID, m.Where(), m.Func, m.Before, m.After)
			}
		}
		fmt.Println(s, len(ms), count)
	}
}
