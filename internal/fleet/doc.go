// Package fleet connects plan's executor to real hosts: it implements plan.Fleet and
// plan.Host over remote/ (SSH, SFTP, the per-host lock, service managers) and plan.Gates over
// verify/. cmd/latticepush and the lab tests build one with New; plan itself never sees SSH.
package fleet
