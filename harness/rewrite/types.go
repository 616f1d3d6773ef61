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

// writeType writes t to b as typeString describes. It dispatches on the
// kind of type; the composite kinds that need more than a line or two have
// their own writers below, so that each reads on its own.
func (r *fileRewriter) writeType(b *strings.Builder, t types.Type, foreign bool) error {
	switch t := t.(type) {
	case *types.Basic:
		return r.writeBasic(b, t)
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
			return r.writeLangChan(b, t)
		}
		return r.writeGoChan(b, t)
	case *types.Signature:
		b.WriteString("func")
		return r.writeSignature(b, t, foreign)
	case *types.Struct:
		return r.writeStruct(b, t, foreign)
	case *types.Interface:
		return r.writeInterface(b, t, foreign)
	case *types.Union:
		return r.writeUnion(b, t, foreign)
	default:
		return fmt.Errorf("type %s cannot be written", t)
	}
	return nil
}

// writeBasic writes a predeclared type by its name, and unsafe.Pointer
// through the unsafe import the rewrite adds. An untyped constant's type
// has no name to write, so it is an error.
func (r *fileRewriter) writeBasic(b *strings.Builder, t *types.Basic) error {
	if t.Kind() == types.UnsafePointer {
		b.WriteString(r.alias("unsafe") + ".Pointer")
		return nil
	}
	if t.Info()&types.IsUntyped != 0 {
		return fmt.Errorf("untyped %s has no name", t)
	}
	b.WriteString(t.Name())
	return nil
}

// writeLangChan writes a channel type of rewritten code as lang.Chan[T]:
// the rewrite's channels are the runtime's, whatever their direction.
func (r *fileRewriter) writeLangChan(b *strings.Builder, t *types.Chan) error {
	b.WriteString(r.lang() + ".Chan[")
	if err := r.writeType(b, t.Elem(), false); err != nil {
		return err
	}
	b.WriteString("]")
	return nil
}

// writeGoChan writes a channel type of foreign code as a Go channel type,
// with its direction. A receive-only element of a channel that is not
// receive-only is parenthesized: chan <-chan T would read as chan<- chan T.
func (r *fileRewriter) writeGoChan(b *strings.Builder, t *types.Chan) error {
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
}

// writeStruct writes a struct type literal on one line, fields separated
// by semicolons, tags quoted. An unexported field of another package cannot
// be named outside it, so such a struct is an error.
func (r *fileRewriter) writeStruct(b *strings.Builder, t *types.Struct, foreign bool) error {
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
	return nil
}

// writeInterface writes an interface type literal on one line: its
// explicit methods, then its embedded types. An unexported method of
// another package cannot be named outside it, so such an interface is an
// error.
func (r *fileRewriter) writeInterface(b *strings.Builder, t *types.Interface, foreign bool) error {
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
	return nil
}

// writeUnion writes a constraint's union of terms (~int | string), as it
// appears embedded in an interface.
func (r *fileRewriter) writeUnion(b *strings.Builder, t *types.Union, foreign bool) error {
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
	return nil
}

// writeNamed writes a named type or alias with its type arguments: a
// drop-in in place of a standard concurrency type, a type of this package
// by its bare name, one of another package through the import the rewrite
// adds. An unexported type of another package cannot be named, an error.
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

// writeSignature writes a function type's parameters and results (after
// "func" or a method's name), the last parameter of a variadic one as ...T.
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
