// Package blockforever is a snippet with a bug: select {} with nothing left
// to wake it.
package blockforever

func Program() string {
	select {}
}
