package account

import "github.com/jwtauth/jwtauth/auth-server/internal/store"

// ImportedUser checks and normalises a user moved in from another system by the rules of a
// signup (username 3–32 of a-z 0-9 . _ -, lower-cased; a valid email, lower-cased; roles of
// the role pattern, repeats dropped), returning ErrInvalidUsername, ErrInvalidEmail or the
// roles' error otherwise. The password hash is the caller's to check.
func ImportedUser(username, email string, roles []string) (store.User, error) {
	u, err := normalizeUsername(username)
	if err != nil {
		return store.User{}, err
	}
	e, err := normalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	r, err := normalizeRoles(roles)
	if err != nil {
		return store.User{}, err
	}
	return store.User{Username: u, Email: e, Roles: r}, nil
}
