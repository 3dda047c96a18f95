package main

import (
	"fmt"

	"gatehouse.dev/gatehouse/vet"
	"gatehouse.dev/gatehouse/vet/secrets"
	"gatehouse.dev/gatehouse/vet/source"
)

func main() { a, _ := secrets.New(); fmt.Println(vet.High, a, source.New()) }
