package xmlsig

import (
	"bytes"

	"github.com/beevik/etree"
)

// WriteElement writes el as etree's Element.WriteTo does, byte for byte,
// but without building each prefixed name as a new string, and copying
// values that need no escaping as they are; any other value goes through
// etree's own escaping. Answers are serialised by it, and signed elements
// canonicalised through the same helpers.
func WriteElement(b *bytes.Buffer, el *etree.Element, s *etree.WriteSettings) {
	b.WriteByte('<')
	writeName(b, el.Space, el.Tag)
	for i := range el.Attr {
		b.WriteByte(' ')
		writeAttr(b, &el.Attr[i], s)
	}
	if len(el.Child) == 0 && !s.CanonicalEndTags {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			WriteElement(b, t, s)
		case *etree.CharData:
			writeText(b, t, s)
		default:
			t.WriteTo(b, s)
		}
	}
	b.WriteString("</")
	writeName(b, el.Space, el.Tag)
	b.WriteByte('>')
}

func writeName(b *bytes.Buffer, space, local string) {
	if space != "" {
		b.WriteString(space)
		b.WriteByte(':')
	}
	b.WriteString(local)
}

func writeAttr(b *bytes.Buffer, a *etree.Attr, s *etree.WriteSettings) {
	if !plain(a.Value) || s.AttrSingleQuote {
		a.WriteTo(b, s)
		return
	}
	writeName(b, a.Space, a.Key)
	b.WriteString(`="`)
	b.WriteString(a.Value)
	b.WriteByte('"')
}

func writeText(b *bytes.Buffer, t *etree.CharData, s *etree.WriteSettings) {
	if t.IsCData() || !plain(t.Data) {
		t.WriteTo(b, s)
		return
	}
	b.WriteString(t.Data)
}

// plain says whether etree would write v unchanged in any of its modes
// (normal or canonical, text or attribute value): printable ASCII other
// than the characters XML escapes.
func plain(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20 || c > 0x7e, c == '&', c == '<', c == '>', c == '\'', c == '"':
			return false
		}
	}
	return true
}
