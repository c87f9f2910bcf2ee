package store

var listCommands = []*Command{}
