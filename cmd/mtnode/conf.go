package main

import _ "embed"

// defaultConf is the config a first run writes when the file does not exist.
//
//go:embed default.conf
var defaultConf string

// demoConf is the in-memory config of "mtnode run --demo" (make run).
//
//go:embed demo.conf
var demoConf string
