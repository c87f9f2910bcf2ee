package store

var setCommands = []*Command{}
