package rewrite

import (
	"fmt"
	"go/types"
	"strconv"
	"strings"
)

// typeString writes type t as source in the rewritten file: channel types
// as lang.Chan (or, with foreign, as Go channels), the concurrency types of
// the standard library as their drop-ins, and every named type of another
// package through an import that the rewrite adds (the file's own imports
// may be blanked). A type that cannot be named here (an unexported type of
// another package) is an error.
func (r *fileRewriter) typeString(t types.Type, foreign bool) (string, error) {
	var b strings.Builder
	if err := r.writeType(&b, t, foreign); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (r *fileRewriter) writeType(b *strings.Builder, t types.Type, foreign bool) error {
	switch t := t.(type) {
	case *types.Basic:
		if t.Kind() == types.UnsafePointer {
			b.WriteString(r.alias("unsafe") + ".Pointer")
			return nil
		}
		if t.Info()&types.IsUntyped != 0 {
			return fmt.Errorf("untyped %s has no name", t)
		}
		b.WriteString(t.Name())
	case *types.Alias:
		return r.writeNamed(b, t.Obj(), t.TypeArgs(), foreign)
	case *types.Named:
		return r.writeNamed(b, t.Obj(), t.TypeArgs(), foreign)
	case *types.TypeParam:
		b.WriteString(t.Obj().Name())
	case *types.Pointer:
		b.WriteString("*")
		return r.writeType(b, t.Elem(), foreign)
	case *types.Slice:
		b.WriteString("[]")
		return r.writeType(b, t.Elem(), foreign)
	case *types.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		return r.writeType(b, t.Elem(), foreign)
	case *types.Map:
		b.WriteString("map[")
		if err := r.writeType(b, t.Key(), foreign); err != nil {
			return err
		}
		b.WriteString("]")
		return r.writeType(b, t.Elem(), foreign)
	case *types.Chan:
		if !foreign {
			b.WriteString(r.lang() + ".Chan[")
			if err := r.writeType(b, t.Elem(), false); err != nil {
				return err
			}
			b.WriteString("]")
			return nil
		}
		switch t.Dir() {
		case types.SendRecv:
			b.WriteString("chan ")
		case types.SendOnly:
			b.WriteString("chan<- ")
		case types.RecvOnly:
			b.WriteString("<-chan ")
		}
		if c, ok := t.Elem().(*types.Chan); ok && c.Dir() == types.RecvOnly && t.Dir() != types.RecvOnly {
			b.WriteString("(")
			defer b.WriteString(")")
		}
		return r.writeType(b, t.Elem(), true)
	case *types.Signature:
		b.WriteString("func")
		return r.writeSignature(b, t, foreign)
	case *types.Struct:
		b.WriteString("struct{")
		for i := range t.NumFields() {
			if i > 0 {
				b.WriteString("; ")
			}
			f := t.Field(i)
			if !f.Exported() && f.Pkg() != r.p.pkg {
				return fmt.Errorf("field %s of another package cannot be named", f.Name())
			}
			if !f.Embedded() {
				b.WriteString(f.Name() + " ")
			}
			if err := r.writeType(b, f.Type(), foreign); err != nil {
				return err
			}
			if tag := t.Tag(i); tag != "" {
				b.WriteString(" " + strconv.Quote(tag))
			}
		}
		b.WriteString("}")
	case *types.Interface:
		if t.NumMethods() == 0 && t.NumEmbeddeds() == 0 {
			b.WriteString("interface{}")
			return nil
		}
		b.WriteString("interface{")
		for i := range t.NumExplicitMethods() {
			if i > 0 {
				b.WriteString("; ")
			}
			m := t.ExplicitMethod(i)
			if !m.Exported() && m.Pkg() != r.p.pkg {
				return fmt.Errorf("method %s of another package cannot be named", m.Name())
			}
			b.WriteString(m.Name())
			if err := r.writeSignature(b, m.Type().(*types.Signature), foreign); err != nil {
				return err
			}
		}
		for i := range t.NumEmbeddeds() {
			if i > 0 || t.NumExplicitMethods() > 0 {
				b.WriteString("; ")
			}
			if err := r.writeType(b, t.EmbeddedType(i), foreign); err != nil {
				return err
			}
		}
		b.WriteString("}")
	case *types.Union:
		for i := range t.Len() {
			if i > 0 {
				b.WriteString(" | ")
			}
			if t.Term(i).Tilde() {
				b.WriteString("~")
			}
			if err := r.writeType(b, t.Term(i).Type(), foreign); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("type %s cannot be written", t)
	}
	return nil
}

func (r *fileRewriter) writeNamed(b *strings.Builder, obj *types.TypeName, args *types.TypeList, foreign bool) error {
	switch {
	case obj.Pkg() == nil: // error, comparable, any
		b.WriteString(obj.Name())
	case isDropIn(obj):
		b.WriteString(r.alias(dropIns[obj.Pkg().Path()].path) + "." + obj.Name())
	case obj.Pkg() == r.p.pkg:
		b.WriteString(obj.Name()) // a type of a function is in scope where its values are

	case !obj.Exported():
		return fmt.Errorf("type %s.%s is not exported", obj.Pkg().Path(), obj.Name())
	default:
		b.WriteString(r.alias(obj.Pkg().Path()) + "." + obj.Name())
	}
	if args != nil && args.Len() > 0 {
		b.WriteString("[")
		for i := range args.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := r.writeType(b, args.At(i), foreign); err != nil {
				return err
			}
		}
		b.WriteString("]")
	}
	return nil
}

func (r *fileRewriter) writeSignature(b *strings.Builder, sig *types.Signature, foreign bool) error {
	tuple := func(t *types.Tuple, variadic bool) error {
		b.WriteString("(")
		for i := range t.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			typ := t.At(i).Type()
			if variadic && i == t.Len()-1 {
				b.WriteString("...")
				typ = typ.(*types.Slice).Elem()
			}
			if err := r.writeType(b, typ, foreign); err != nil {
				return err
			}
		}
		b.WriteString(")")
		return nil
	}
	if err := tuple(sig.Params(), sig.Variadic()); err != nil {
		return err
	}
	if sig.Results().Len() > 0 {
		b.WriteString(" ")
		return tuple(sig.Results(), false)
	}
	return nil
}
