package policy

import "testing"

func TestTimeTokyo(t *testing.T) {
	// Asia/Tokyo is UTC+9 all year. 2026-03-10 is a Tuesday.
	in := func(utc string) Input { return Input{Now: tm(t, utc)} }
	runCondCases(t, "Asia/Tokyo", []condCase{
		{name: "within hours", when: `time: { hours: "09:00-18:00" }`,
			in: in("2026-03-10T00:30:00Z"), want: true}, // 09:30 JST
		{name: "start is inclusive", when: `time: { hours: "09:00-18:00" }`,
			in: in("2026-03-10T00:00:00Z"), want: true},
		{name: "end is exclusive", when: `time: { hours: "09:00-18:00" }`,
			in: in("2026-03-10T09:00:00Z"), failed: "time: 18:00 Asia/Tokyo not within 09:00-18:00"},
		{name: "UTC hour would match, Tokyo hour does not", when: `time: { hours: "09:00-18:00" }`,
			in: in("2026-03-10T10:00:00Z"), failed: "time: 19:00 Asia/Tokyo not within 09:00-18:00"},
		{name: "weekday", when: "time: { weekdays: [mon, tue, wed, thu, fri] }",
			in: in("2026-03-10T00:30:00Z"), want: true},
		{name: "full weekday names, any case", when: "time: { weekdays: [Tuesday] }",
			in: in("2026-03-10T00:30:00Z"), want: true},
		{name: "saturday in Tokyo while friday in UTC", when: "time: { weekdays: [mon, tue, wed, thu, fri] }",
			in: in("2026-03-13T16:00:00Z"), failed: "time: sat not in [mon, tue, wed, thu, fri]"},
		// A night shift starting Friday: 22:00-06:00 belongs to the day it began.
		{name: "night window, before midnight", when: `time: { weekdays: [fri], hours: "22:00-06:00" }`,
			in: in("2026-03-13T14:00:00Z"), want: true}, // Fri 23:00
		{name: "night window, after midnight", when: `time: { weekdays: [fri], hours: "22:00-06:00" }`,
			in: in("2026-03-13T17:00:00Z"), want: true}, // Sat 02:00
		{name: "night window, end exclusive", when: `time: { weekdays: [fri], hours: "22:00-06:00" }`,
			in: in("2026-03-13T21:00:00Z"), failed: "time: 06:00 Asia/Tokyo not within 22:00-06:00"},
		{name: "night window, saturday night", when: `time: { weekdays: [fri], hours: "22:00-06:00" }`,
			in: in("2026-03-14T14:00:00Z"), failed: "time: sat not in [fri]"},
		{name: "night window, early friday began thursday", when: `time: { weekdays: [fri], hours: "22:00-06:00" }`,
			in: in("2026-03-12T17:00:00Z"), failed: "time: window began thu not in [fri]"},
		{name: "unquoted hours", when: "time: { hours: 09:00-18:00 }",
			in: in("2026-03-10T00:30:00Z"), want: true},
		{name: "whole day with 24:00", when: `time: { hours: "00:00-24:00" }`,
			in: in("2026-03-10T14:59:59Z"), want: true}, // 23:59:59
		{name: "date range, last day", when: "time: { dates: [{from: 2026-12-28, to: 2027-01-03}] }",
			in: in("2027-01-03T14:59:00Z"), want: true}, // 2027-01-03 23:59 JST
		{name: "date range, the day after in Tokyo", when: "time: { dates: [{from: 2026-12-28, to: 2027-01-03}] }",
			in: in("2027-01-03T15:00:00Z"), failed: "time: 2027-01-04 not in dates"},
		{name: "date range, first day starts in Tokyo", when: "time: { dates: [{from: 2026-12-28, to: 2027-01-03}] }",
			in: in("2026-12-27T15:00:00Z"), want: true},
		{name: "single dates", when: "time: { dates: [2026-12-31, 2027-01-02] }",
			in: in("2027-01-02T03:00:00Z"), want: true},
		{name: "single dates miss", when: "time: { dates: [2026-12-31, 2027-01-02] }",
			in: in("2027-01-01T03:00:00Z"), failed: "time: 2027-01-01 not in dates"},
		{name: "holiday", when: "time: { weekdays: [mon, tue, wed, thu, fri], except_dates: [2026-11-03, 2026-11-23] }",
			in: in("2026-11-23T01:00:00Z"), failed: "time: 2026-11-23 is in except_dates"},
		{name: "day after holiday", when: "time: { weekdays: [mon, tue, wed, thu, fri], except_dates: [2026-11-03, 2026-11-23] }",
			in: in("2026-11-24T01:00:00Z"), want: true},
		{name: "night after a holiday belongs to the holiday", when: `time: { hours: "22:00-06:00", except_dates: [2026-11-23] }`,
			in: in("2026-11-23T17:00:00Z"), failed: "time: 2026-11-23 is in except_dates"}, // 11-24 02:00
	})
}

func TestTimeNewYorkDST(t *testing.T) {
	// America/New_York: EST (UTC-5) until 2026-03-08 02:00, EDT (UTC-4) until
	// 2026-11-01 02:00, then EST again.
	in := func(utc string) Input { return Input{Now: tm(t, utc)} }
	const office = `time: { hours: "09:00-17:00" }`
	runCondCases(t, "America/New_York", []condCase{
		{name: "13:30Z before spring switch is 08:30 EST", when: office,
			in: in("2026-03-06T13:30:00Z"), failed: "time: 08:30 America/New_York not within 09:00-17:00"},
		{name: "13:30Z after spring switch is 09:30 EDT", when: office,
			in: in("2026-03-09T13:30:00Z"), want: true},
		{name: "21:30Z before fall switch is 17:30 EDT", when: office,
			in: in("2026-10-30T21:30:00Z"), failed: "time: 17:30 America/New_York not within 09:00-17:00"},
		{name: "21:30Z after fall switch is 16:30 EST", when: office,
			in: in("2026-11-02T21:30:00Z"), want: true},
		{name: "switch night: 01:30 EST", when: `time: { hours: "01:00-03:00" }`,
			in: in("2026-03-08T06:30:00Z"), want: true},
		{name: "switch night: 07:30Z is already 03:30 EDT", when: `time: { hours: "01:00-03:00" }`,
			in: in("2026-03-08T07:30:00Z"), failed: "time: 03:30 America/New_York not within 01:00-03:00"},
		{name: "repeated hour, first pass 01:30 EDT", when: `time: { hours: "01:00-02:00" }`,
			in: in("2026-11-01T05:30:00Z"), want: true},
		{name: "repeated hour, second pass 01:30 EST", when: `time: { hours: "01:00-02:00" }`,
			in: in("2026-11-01T06:30:00Z"), want: true},
		{name: "weekday on the wall clock: saturday 23:00 EST is sunday UTC", when: "time: { weekdays: [sat] }",
			in: in("2026-11-08T04:00:00Z"), want: true},
	})
}

func TestTimeDefaultsToUTC(t *testing.T) {
	runCondCases(t, "", []condCase{
		{name: "utc hours", when: `time: { hours: "09:00-17:00" }`,
			in: Input{Now: tm(t, "2026-03-10T09:00:00+09:00")}, failed: "time: 00:00 UTC not within 09:00-17:00"},
	})
}
