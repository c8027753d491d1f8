// Package policy makes fedgate's access decisions: a pure function from a
// compiled policy and a plain Input (who, which app, through which upstream,
// from where, when) to a Decision.
//
// # Model
//
// A policy is an ordered list of rules. Each rule has a name, optional
// conditions under `when` (all must hold; none means "always") and exactly
// one action, `allow` or `deny`. Decide walks the rules in order and the
// first rule whose conditions hold decides. When no rule matches, the answer
// is Deny with ReasonNoRuleMatched: access is denied by default.
//
//	policy: office-hours
//	timezone: Asia/Tokyo          # wall clock for time conditions; default UTC
//	message: { en: "...", ja: "..." }   # shown on deny unless the rule has its own
//	networks:                     # named networks, shared by every file in the Set
//	  office: [10.0.0.0/8, "2001:db8::/32"]
//	rules:
//	  - name: office network
//	    when: { networks: [office] }
//	    allow: {}
//	  - name: remote staff, with recent MFA
//	    when: { groups: [staff], time: { weekdays: [mon, tue, wed, thu, fri], hours: "08:00-20:00" } }
//	    allow: { mfa: { methods: [mfa, otp, hwk], max_age: 12h }, max_session: 8h }
//	  - name: everyone else
//	    deny: { message: { en: "Not from here.", ja: "ここからは利用できません。" } }
//
// Conditions: users, groups, upstreams, apps, claims, networks, time, auth,
// and the combinators not (a condition map), any and all (lists of condition
// maps). Each lives in its own file, with its syntax in the type's comment.
//
// # Step-up
//
// An allow rule may demand MFA. If the rule matches but the identity's AMR
// has none of the accepted methods (default [mfa]), or it authenticated
// longer than max_age ago, the decision is StepUp, never Allow, with the
// requirement in Obligations.MFA. The broker performs the MFA and calls
// Decide again with the new AMR and AuthTime. An `auth` condition, by
// contrast, only selects a rule; it never triggers a step-up. Before sign-in,
// RequiresMFA tells whether every rule that could allow needs MFA, so the
// broker can ask the upstream for it in the first redirect.
//
// # Loading
//
// Load parses YAML through its AST so that every Problem carries the exact
// file:line:col, reports every mistake it finds (not just the first) with a
// hint, and compiles everything up front: CIDRs to netip.Prefix, regexps,
// weekdays to a bitmask, users and groups to lowercased sets. A Set is
// immutable and safe to share.
//
// # Purity
//
// The package does no I/O, reads no clock, logs nothing and has no mutable
// package state: the time and client address arrive in Input, and the same
// Input always gets the same Decision. Decision.Trace explains, for each rule
// tried before the deciding one, the first condition that did not hold;
// `fedgate policy explain` prints it.
package policy
