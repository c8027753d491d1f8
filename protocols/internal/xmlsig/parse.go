// Package xmlsig is the XML-signature core shared by the SAML IdP and the
// WS-Federation STS: it parses untrusted XML defensively (size limit, no
// DTDs or entities, round-trip validation), signs elements with enveloped
// exc-c14n signatures, and verifies a signature on exactly the element that
// the caller then reads (the verified copy is returned, never the input).
//
// It wraps github.com/russellhaering/goxmldsig (>= 1.6.0) and
// github.com/beevik/etree; protocol packages never use them for signatures
// directly.
package xmlsig

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"
)

// DefaultMaxSize bounds incoming XML documents (after any decoding).
const DefaultMaxSize = 128 << 10

// Errors of Parse and Verify; wrapped with detail.
var (
	ErrTooLarge     = errors.New("xmlsig: document too large")
	ErrDTD          = errors.New("xmlsig: DTDs, entities and processing instructions are not allowed")
	ErrMalformed    = errors.New("xmlsig: malformed XML")
	ErrRoundTrip    = errors.New("xmlsig: XML does not survive a round trip")
	ErrNoSignature  = errors.New("xmlsig: element is not signed")
	ErrBadSignature = errors.New("xmlsig: signature invalid")
)

// roundTrips are the buffers Parse writes its tree back into.
var roundTrips = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Parse reads an untrusted document: at most limit bytes (DefaultMaxSize
// when limit <= 0), no DOCTYPE, no entity references other than XML's own,
// no processing instructions but the XML declaration, one root element, and
// the same tree when read by encoding/xml and by etree (round trip).
func Parse(data []byte, limit int) (*etree.Document, error) {
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), limit)
	}
	first, err := scan(data, true)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if doc.Root() == nil {
		return nil, fmt.Errorf("%w: no root element", ErrMalformed)
	}
	// Round trip: what etree holds, written out and read again, must be the
	// tree encoding/xml saw in the original. Written with canonical escaping:
	// a CR (sent as &#xD;) written raw would be read back as a line feed,
	// and a document that is fine refused.
	b := roundTrips.Get().(*bytes.Buffer)
	defer roundTrips.Put(b)
	b.Reset()
	for _, t := range doc.Child { // as doc.WriteTo, without its bufio.Writer
		if el, ok := t.(*etree.Element); ok {
			WriteElement(b, el, &canonicalSettings)
		} else {
			t.WriteTo(b, &canonicalSettings)
		}
	}
	second, err := scan(b.Bytes(), false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRoundTrip, err)
	}
	if !slices.Equal(first, second) {
		return nil, ErrRoundTrip
	}
	return doc, nil
}

// scan tokenizes data strictly and returns a flat description of its
// elements, attributes (namespace-resolved) and text, for comparison.
func scan(data []byte, original bool) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.Entity = nil // only &lt; &gt; &amp; &apos; &quot; and character references
	var out []string
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if strings.Contains(err.Error(), "entity") {
				return nil, fmt.Errorf("%w: %v", ErrDTD, err)
			}
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, ErrDTD
		case xml.ProcInst:
			if t.Target != "xml" || !original || len(out) > 0 || depth > 0 {
				if t.Target == "xml" && !original {
					continue // etree writes its own declaration back
				}
				return nil, ErrDTD
			}
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return nil, fmt.Errorf("%w: more than one root element", ErrMalformed)
				}
			}
			depth++
			if err := checkName(t.Name); err != nil {
				return nil, err
			}
			var attrs []string
			for _, a := range t.Attr {
				if err := checkName(a.Name); err != nil {
					return nil, err
				}
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue // declarations: compared through the names they resolve
				}
				attrs = append(attrs, a.Name.Space+"|"+a.Name.Local+"="+a.Value)
			}
			slices.Sort(attrs)
			out = append(out, "<"+t.Name.Space+"|"+t.Name.Local+" "+strings.Join(attrs, " "))
		case xml.EndElement:
			depth--
			out = append(out, ">"+t.Name.Space+"|"+t.Name.Local)
		case xml.CharData:
			if depth == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: text outside the root element", ErrMalformed)
				}
				continue
			}
			if n := len(out); n > 0 && strings.HasPrefix(out[n-1], "#") {
				out[n-1] += string(t) // adjacent text (CDATA) joins
			} else {
				out = append(out, "#"+string(t))
			}
		case xml.Comment:
			// Comments are dropped by exc-c14n; they split text nodes, which
			// is what the comment-in-NameID attack relies on. Reading text
			// only from verified (canonical, comment-free) copies defeats it.
		}
	}
	if roots != 1 {
		return nil, fmt.Errorf("%w: no root element", ErrMalformed)
	}
	return out, nil
}

// checkName refuses names encoding/xml mangles (several colons, empty parts).
func checkName(n xml.Name) error {
	if n.Local == "" || strings.Contains(n.Local, ":") {
		return fmt.Errorf("%w: bad name %q", ErrRoundTrip, n.Space+":"+n.Local)
	}
	return nil
}
