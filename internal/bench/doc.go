// Package bench measures latticepush where operators feel it: plan and apply on a lab fleet
// of real hosts (sshd, runit, nats-server) next to the physical floor (one fresh SSH exec per
// host, all at once) and next to Ansible doing the same work on the same hosts, plus plan at
// thousands of simulated hosts. The benchmarks live in the test files (`make bench`); this
// package holds what they share: the simulated fleet, the floor, the Ansible project, the
// statistics and the BENCHMARKS.md report. Nothing here asserts a time.
package bench
