// Package fleet connects the executor to real hosts: it implements rollout.Fleet and
// rollout.Host over remote/ (SSH, SFTP, the per-host lock, service managers) and rollout.Gates
// over verify/. cmd/latticepush and the lab tests build one through a Session; neither plan
// nor rollout ever sees SSH.
package fleet
