site_nyc = {
  cidr  = "10.3.0.0/22"
  edges = 100
  zone  = "us-east"
}
