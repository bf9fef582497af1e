package graph

import "github.com/tillpos/till/reports"

// periodInput is a report period for the reports service.
func periodInput(in ReportPeriodInput) reports.PeriodInput {
	return reports.PeriodInput{Preset: reports.Preset(in.Preset), From: in.From, To: in.To}
}
