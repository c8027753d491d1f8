package kerberos

import "slices"

// mapGroups names the SIDs the table knows, in the ticket's order, once.
func mapGroups(sids []string, table map[string]string) []string {
	var out []string
	for _, sid := range sids {
		if name, ok := table[sid]; ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}
