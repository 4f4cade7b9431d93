// Package termprogress shows training progress on a terminal for the example programs: a
// progress bar (progressbar/v3) per stage when the writer is a terminal, and one plain line per
// logged metrics line otherwise (CI, files). The library itself never prints; programs pass
// Reporter.Update as train.Config.OnProgress.
package termprogress
