package xmlsig

import "github.com/beevik/etree"

// Canonical is el in exc-c14n as Sign digests it, for the comparison
// with goxmldsig in canonical_test.go.
func Canonical(el *etree.Element) (string, error) {
	c := canonicalizers.Get().(*canonicalizer)
	defer canonicalizers.Put(c)
	if err := c.write(el); err != nil {
		return "", err
	}
	return c.w.String(), nil
}
