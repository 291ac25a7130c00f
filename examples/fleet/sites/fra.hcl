site_fra = {
  cidr  = "10.2.0.0/22"
  edges = 100
  zone  = "eu-central"
}
