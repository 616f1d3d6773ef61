package timeline

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heddle-go/heddle/checkers"
)

//go:embed page.html
var pageHTML string

//go:embed page.css
var pageCSS string

//go:embed page.js
var pageJS string

// pageTemplate is parsed once; render binds its functions to the page.
var pageTemplate = template.Must(template.New("page").Funcs(pageFuncs(&page{})).Parse(pageHTML))

// pageFuncs are the template's functions over one page's model: the label
// of a site or a lane by index, and the number of lanes.
func pageFuncs(p *page) template.FuncMap {
	return template.FuncMap{
		"sitelabel": func(i int) string {
			if i < 0 || i >= len(p.model.Sites) {
				return ""
			}
			return p.model.Sites[i].Label
		},
		"lanelabel": func(i int) string {
			if i < 0 || i >= len(p.model.Lanes) {
				return ""
			}
			l := p.model.Lanes[i]
			if l.Node == "" {
				return "g" + strconv.Itoa(l.G)
			}
			return "g" + strconv.Itoa(l.G) + " on " + l.Node
		},
		"lanecount": func() int { return len(p.model.Lanes) },
		"inc":       func(i int) int { return i + 1 },
	}
}

// maxVisualization bounds the size of a visualisation the page embeds.
const maxVisualization = 32 << 20

// page is what the template renders.
type page struct {
	Title      string
	Fields     []field
	Replay     string
	Violations []violationView
	Groups     []groupView
	Bands      []bandView
	Events     int
	Preempts   int
	CSS        template.CSS
	JS         template.JS
	// Data is the model as JSON (safe inside a script element: the
	// encoder escapes <, > and &).
	Data template.JS
	// model is the analysis the template's functions read.
	model *model
}

// field is one entry of the header.
type field struct {
	Name, Value string
	Code        bool
}

// violationView is one violation as the page lists it.
type violationView struct {
	Index   int
	Kind    string
	First   string
	Message string
	// MoreLines counts the message's lines after the first.
	MoreLines int
	// Races and Blocked are what the page could place on the timeline.
	Races   []raceView
	Blocked []blockedView
	Marks   []markView
	// Visualization is porcupine's page (Path) and its content, embedded.
	VisPath    string
	VisHTML    string
	VisMissing string
}

// markView is a violation mark as the header lists it.
type markView struct {
	Lane, Event int
	Label       string
	G           int
	Site        string
	SiteIndex   int
}

type groupView struct {
	Node  string
	Lanes []lane
}

type bandView struct {
	Kind, Label, Nodes, Error string
	At, Until                 string
	From                      int
}

// data is everything the page's script reads.
type data struct {
	model
	Files   []sourceFile  `json:"files"`
	Races   []raceView    `json:"races"`
	Blocked []blockedView `json:"blocked"`
	// Preemptions is the run's own count (Run.Preemptions).
	Preemptions int `json:"preemptions"`
}

// build analyses the run and gathers what the page shows.
func build(r Run, opts *Options) *page {
	a := analyse(r.Events)
	races, blocked := a.violations(r.Violations)
	files := a.sources(opts)
	p := &page{Title: r.title(), Replay: r.Replay, Events: len(r.Events), Preempts: len(a.m.PreemptAt),
		CSS: template.CSS(pageCSS), JS: template.JS(pageJS)}
	add := func(name, value string, code bool) {
		if value != "" {
			p.Fields = append(p.Fields, field{name, value, code})
		}
	}
	add("case", r.Case, false)
	add("variant", r.Variant, false)
	add("test", r.Test, false)
	add("seed", strconv.FormatInt(r.Seed, 10), true)
	add("strategy", r.Strategy, true)
	add("preemptions", strconv.Itoa(r.Preemptions), false)
	add("steps", strconv.Itoa(r.Steps), false)
	if r.TraceHash != 0 {
		add("trace hash", fmt.Sprintf("%016x", r.TraceHash), true)
	}
	add("fault plan", r.Faults, true)
	add("events", strconv.Itoa(len(r.Events)), false)
	add("goroutines", strconv.Itoa(len(a.m.Lanes)), false)
	for i, v := range r.Violations {
		p.Violations = append(p.Violations, a.violationView(i, v, races, blocked, opts))
	}
	for _, g := range a.m.Groups {
		gv := groupView{Node: g.Node}
		for _, l := range g.Lanes {
			gv.Lanes = append(gv.Lanes, a.m.Lanes[l])
		}
		p.Groups = append(p.Groups, gv)
	}
	for _, b := range a.m.Bands {
		p.Bands = append(p.Bands, bandView{Kind: b.Kind, Label: b.Label, Nodes: strings.Join(b.Nodes, ", "),
			Error: b.Error, At: fmtDuration(b.At), Until: fmtDuration(b.Until), From: b.From})
	}
	d := data{model: a.m, Files: files, Races: races, Blocked: blocked, Preemptions: r.Preemptions}
	js, err := json.Marshal(d)
	if err != nil { // the model holds only strings and numbers
		panic(fmt.Sprintf("timeline: encoding the page's data: %v", err))
	}
	p.Data = template.JS(js)
	p.model = &a.m
	return p
}

func (a *analysis) violationView(i int, v checkers.Violation, races []raceView, blocked []blockedView, opts *Options) violationView {
	first, rest, _ := strings.Cut(v.Message, "\n")
	vv := violationView{Index: i, Kind: string(v.Kind), First: first, Message: v.Message,
		MoreLines: strings.Count(rest, "\n") + 1}
	if rest == "" {
		vv.MoreLines = 0
	}
	for _, r := range races {
		if r.Violation == i {
			vv.Races = append(vv.Races, r)
		}
	}
	for _, b := range blocked {
		if b.Violation == i {
			vv.Blocked = append(vv.Blocked, b)
		}
	}
	for _, m := range a.m.Marks {
		if m.Violation != i || m.Maybe {
			continue
		}
		mv := markView{Lane: m.Lane, Event: m.Event, Label: m.Label, G: a.m.Lanes[m.Lane].G, SiteIndex: -1}
		if m.Event >= 0 && a.m.Site[m.Event] >= 0 {
			mv.SiteIndex = a.m.Site[m.Event]
			mv.Site = a.m.Sites[mv.SiteIndex].Label
		}
		vv.Marks = append(vv.Marks, mv)
	}
	if v.Visualization != "" {
		vv.VisPath = v.Visualization
		data, err := opts.readFile(v.Visualization)
		switch {
		case err != nil:
			vv.VisMissing = err.Error()
		case len(data) > maxVisualization:
			vv.VisMissing = fmt.Sprintf("%d bytes: too large to embed", len(data))
		default:
			vv.VisHTML = string(data)
		}
	}
	return vv
}

// sourceFile is the part of one source file the page shows: the lines
// around every site in it.
type sourceFile struct {
	Path   string  `json:"path"`
	Chunks []chunk `json:"chunks"`
}

type chunk struct {
	Start int      `json:"start"` // the first line's number
	Lines []string `json:"lines"`
}

// sources reads the files of the model's sites and keeps the lines around
// each site, giving each site its file.
func (a *analysis) sources(opts *Options) []sourceFile {
	ctx := opts.context()
	lines := map[string][]int{}
	var paths []string
	for _, s := range a.m.Sites {
		file := a.siteFile[s.Label]
		if file == "" || s.Line <= 0 {
			continue
		}
		if _, ok := lines[file]; !ok {
			paths = append(paths, file)
		}
		lines[file] = append(lines[file], s.Line)
	}
	var out []sourceFile
	index := map[string]int{}
	for _, path := range paths {
		src, err := opts.readFile(path)
		if err != nil {
			continue
		}
		all := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
		want := lines[path]
		sort.Ints(want)
		f := sourceFile{Path: path}
		for _, ln := range want {
			from, to := max(1, ln-ctx), min(len(all), ln+ctx)
			if from > to {
				continue
			}
			if n := len(f.Chunks); n > 0 {
				last := &f.Chunks[n-1]
				end := last.Start + len(last.Lines) // one past the last line
				if from <= end {
					for l := end; l <= to; l++ {
						last.Lines = append(last.Lines, all[l-1])
					}
					continue
				}
			}
			f.Chunks = append(f.Chunks, chunk{Start: from, Lines: append([]string(nil), all[from-1:to]...)})
		}
		index[path] = len(out)
		out = append(out, f)
	}
	for i := range a.m.Sites {
		if idx, ok := index[a.siteFile[a.m.Sites[i].Label]]; ok {
			a.m.Sites[i].File = idx
		}
	}
	return out
}

func render(w io.Writer, p *page) error {
	t, err := pageTemplate.Clone()
	if err != nil {
		return err
	}
	return t.Funcs(pageFuncs(p)).Execute(w, p)
}

// fmtDuration renders a virtual time for the page.
func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return d.String()
}
