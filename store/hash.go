package store

var hashCommands = []*Command{}
