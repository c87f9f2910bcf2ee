package store

var zsetCommands = []*Command{}
