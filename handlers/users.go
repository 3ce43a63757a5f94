package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/user"
)

// userResponse is the wire form of a user, as the original app sent it.
type userResponse struct {
	ID        uuid.UUID `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"createdAt"`
}

func newUserResponse(u *ent.User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, Name: u.Name, Active: u.Active, CreatedAt: dbTime(u.CreatedAt)}
}

type createUserRequest struct {
	Email string `json:"email" validate:"required,max=255,nonul,email"`
	Name  string `json:"name" validate:"required,max=255,nonul"`
}

// updateUserRequest is partial: a field that is absent (or null) is left
// unchanged.
type updateUserRequest struct {
	Email  *string `json:"email" validate:"omitnil,min=1,max=255,nonul,email"`
	Name   *string `json:"name" validate:"omitnil,min=1,max=255,nonul"`
	Active *bool   `json:"active"`
}

// dbTime is t as PostgreSQL stores it (microseconds), so that the response
// to a create equals every later read of the same row.
func dbTime(t time.Time) time.Time { return t.Round(time.Microsecond) }

var (
	errUserNotFound = errorf(http.StatusNotFound, "User not found")
	errEmailTaken   = errorf(http.StatusConflict, "Email already exists")
	errUserHasPosts = errorf(http.StatusConflict, "User has posts")
)

// listUsers serves GET /users and GET /users-async: one page of the tenant's
// users in creation order.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := page(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	users, err := tenantClient(ctx).User.Query().
		Order(ent.Asc(user.FieldCreatedAt), ent.Asc(user.FieldID)).
		Limit(limit).Offset(offset).
		All(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	return a.encode(w, r, http.StatusOK, listOf(users, newUserResponse))
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	req, err := decode[createUserRequest](a, w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, err := tenantClient(ctx).User.Create().
		SetEmail(strings.ToLower(req.Email)).
		SetName(req.Name).
		Save(ctx)
	switch {
	case ent.IsConstraintError(err):
		return errEmailTaken
	case err != nil:
		return fmt.Errorf("create user: %w", err)
	}
	w.Header().Set("Location", "/users/"+u.ID.String())
	return a.encode(w, r, http.StatusCreated, newUserResponse(u))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, err := tenantClient(ctx).User.Get(ctx, id)
	switch {
	case ent.IsNotFound(err):
		return errUserNotFound
	case err != nil:
		return fmt.Errorf("get user: %w", err)
	}
	return a.encode(w, r, http.StatusOK, newUserResponse(u))
}

// updateUser serves PUT /users/{id}. Only the fields present in the body
// change; an empty object changes nothing and answers the user as it is.
func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	req, err := decode[updateUserRequest](a, w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	client := tenantClient(ctx)
	var u *ent.User
	if req.Email == nil && req.Name == nil && req.Active == nil {
		u, err = client.User.Get(ctx, id)
	} else {
		upd := client.User.UpdateOneID(id)
		if req.Email != nil {
			upd.SetEmail(strings.ToLower(*req.Email))
		}
		if req.Name != nil {
			upd.SetName(*req.Name)
		}
		if req.Active != nil {
			upd.SetActive(*req.Active)
		}
		u, err = upd.Save(ctx)
	}
	switch {
	case ent.IsNotFound(err):
		return errUserNotFound
	case ent.IsConstraintError(err):
		return errEmailTaken
	case err != nil:
		return fmt.Errorf("update user: %w", err)
	}
	return a.encode(w, r, http.StatusOK, newUserResponse(u))
}

// deleteUser serves DELETE /users/{id}. A user who still has posts is not
// deleted (409): posts are not cascaded away behind the caller's back.
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	err = tenantClient(ctx).User.DeleteOneID(id).Exec(ctx)
	switch {
	case ent.IsNotFound(err):
		return errUserNotFound
	case ent.IsConstraintError(err):
		return errUserHasPosts
	case err != nil:
		return fmt.Errorf("delete user: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
