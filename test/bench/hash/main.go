// Command hash prints a bcrypt cost-4 hash of its argument: benchmark users
// only (real users get argon2id from fedgate hash-password).
package main

import (
	"fmt"
	"os"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	h, err := bcrypt.GenerateFromPassword([]byte(os.Args[1]), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(h))
}
