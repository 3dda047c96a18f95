package main

import (
	"fmt"

	"gatehouse.dev/gatehouse/vet"
	"gatehouse.dev/gatehouse/vet/secrets"
)

func main() { a, _ := secrets.New(); fmt.Println(vet.High, a) }
