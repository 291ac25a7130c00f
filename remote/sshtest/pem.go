package sshtest

import "encoding/pem"

func pemEncode(block any) []byte { return pem.EncodeToMemory(block.(*pem.Block)) }
