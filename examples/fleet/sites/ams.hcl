site_ams = {
  cidr  = "10.1.0.0/22"
  edges = 100
  zone  = "eu-west"
}
