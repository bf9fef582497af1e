package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tillpos/till/errs"
)

// Page sizes for connections: one that names neither first nor last gets
// defaultPageSize; more than maxPageSize is refused.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// pageConnections bounds every connection in the operation before anything
// runs: it refuses a first or last outside 0..maxPageSize and gives
// first: defaultPageSize to a connection that names neither. It must act on
// the operation itself, not in field middleware, because entgql loads
// nested connections for all parents in one query before their resolvers
// run, reading the arguments as written.
//
// The parsed document is cached and shared between requests, so the fields
// it changes are copied, along with the path down to them.
func pageConnections(oc *graphql.OperationContext) *gqlerror.Error {
	p := pager{vars: oc.Variables, fragments: map[string]*ast.FragmentDefinition{}}
	set := p.selections(oc.Operation.SelectionSet)
	if p.err != nil || !p.changed {
		return p.err
	}
	op := *oc.Operation
	op.SelectionSet = set
	doc := *oc.Doc
	doc.Operations = slices.Clone(doc.Operations)
	for i, o := range doc.Operations {
		if o == oc.Operation {
			doc.Operations[i] = &op
		}
	}
	doc.Fragments = slices.Clone(doc.Fragments)
	for i, f := range doc.Fragments {
		if paged := p.fragments[f.Name]; paged != nil {
			doc.Fragments[i] = paged
		}
	}
	oc.Operation, oc.Doc = &op, &doc
	return nil
}

type pager struct {
	vars map[string]any
	// fragments holds the paged copy of each fragment visited (the
	// original when it needed no change).
	fragments map[string]*ast.FragmentDefinition
	changed   bool
	err       *gqlerror.Error
}

// selections returns set with its connections paged, or nil when nothing
// in it needed a change.
func (p *pager) selections(set ast.SelectionSet) ast.SelectionSet {
	var out ast.SelectionSet
	for i, sel := range set {
		if p.err != nil {
			return nil
		}
		var paged ast.Selection
		switch sel := sel.(type) {
		case *ast.Field:
			if f := p.field(sel); f != nil {
				paged = f
			}
		case *ast.InlineFragment:
			if children := p.selections(sel.SelectionSet); children != nil {
				c := *sel
				c.SelectionSet = children
				paged = &c
			}
		case *ast.FragmentSpread:
			if def := p.fragment(sel); def != sel.Definition {
				c := *sel
				c.Definition = def
				paged = &c
			}
		}
		if paged != nil {
			if out == nil {
				out = slices.Clone(set)
			}
			out[i] = paged
		}
	}
	return out
}

// field returns a paged copy of f, or nil when neither it nor anything
// below it needed a change.
func (p *pager) field(f *ast.Field) *ast.Field {
	connection := f.Definition != nil && strings.HasSuffix(f.Definition.Type.Name(), "Connection")
	needsFirst := false
	if connection {
		args := f.ArgumentMap(p.vars)
		for _, name := range []string{"first", "last"} {
			if n, ok := pageSize(args[name]); ok && (n < 0 || n > maxPageSize) {
				p.err = &gqlerror.Error{
					Message:    fmt.Sprintf("%s: must be between 0 and %d", name, maxPageSize),
					Path:       ast.Path{ast.PathName(f.Alias)},
					Extensions: map[string]any{"code": string(errs.BadUserInput), "field": name},
				}
				return nil
			}
		}
		needsFirst = args["first"] == nil && args["last"] == nil
	}
	children := p.selections(f.SelectionSet)
	if children == nil && !needsFirst {
		return nil
	}
	c := *f
	if children != nil {
		c.SelectionSet = children
	}
	if needsFirst {
		// A first given as a null variable is replaced, not repeated.
		c.Arguments = slices.DeleteFunc(slices.Clone(f.Arguments), func(a *ast.Argument) bool { return a.Name == "first" })
		c.Arguments = append(c.Arguments, &ast.Argument{
			Name:  "first",
			Value: &ast.Value{Kind: ast.IntValue, Raw: strconv.Itoa(defaultPageSize)},
		})
		p.changed = true
	}
	return &c
}

// fragment returns the paged copy of the fragment a spread names (the
// original when it needs no change), paging each fragment once.
func (p *pager) fragment(spread *ast.FragmentSpread) *ast.FragmentDefinition {
	if def, seen := p.fragments[spread.Name]; seen {
		return def
	}
	def := spread.Definition
	p.fragments[spread.Name] = def
	if def == nil {
		return nil
	}
	if children := p.selections(def.SelectionSet); children != nil {
		c := *def
		c.SelectionSet = children
		p.fragments[spread.Name] = &c
		return &c
	}
	return def
}

// pageSize reads a first or last argument's value, however it was given.
func pageSize(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	case interface{ Int64() (int64, error) }: // json.Number
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}
