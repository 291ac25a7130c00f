edges = 2
cidr  = "10.9.0.0/24"
sitee = "ams"
