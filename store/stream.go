package store

var streamCommands = []*Command{}
