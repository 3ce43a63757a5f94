package handlers

import (
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/post"
	"github.com/pgtenant/pgtenant/ent/user"
)

// postResponse is the wire form of a post.
type postResponse struct {
	ID        uuid.UUID  `json:"id"`
	Title     string     `json:"title"`
	Content   *string    `json:"content"`
	AuthorID  *uuid.UUID `json:"authorId"`
	CreatedAt time.Time  `json:"createdAt"`
}

func newPostResponse(p *ent.Post) postResponse {
	return postResponse{ID: p.ID, Title: p.Title, Content: p.Content, AuthorID: p.AuthorID, CreatedAt: dbTime(p.CreatedAt)}
}

type createPostRequest struct {
	Title    string  `json:"title" validate:"required,max=255,nonul"`
	Content  *string `json:"content" validate:"omitnil,max=5000,nonul"`
	AuthorID string  `json:"authorId" validate:"required,uuid"`
}

// updatePostRequest is partial: absent (or null) fields are unchanged.
type updatePostRequest struct {
	Title    *string `json:"title" validate:"omitnil,min=1,max=255,nonul"`
	Content  *string `json:"content" validate:"omitnil,max=5000,nonul"`
	AuthorID *string `json:"authorId" validate:"omitnil,uuid"`
}

var (
	errPostNotFound  = errorf(http.StatusNotFound, "Post not found")
	errAuthorMissing = invalidField("authorId", "must be an existing user")
)

func (a *API) listPosts(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := page(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ps, err := tenantClient(ctx).Post.Query().
		Order(ent.Asc(post.FieldCreatedAt), ent.Asc(post.FieldID)).
		Limit(limit).Offset(offset).
		All(ctx)
	if err != nil {
		return fmt.Errorf("list posts: %w", err)
	}
	return a.encode(w, r, http.StatusOK, listOf(ps, newPostResponse))
}

// listUserPosts serves GET /users/{id}/posts: 404 when the user does not
// exist, so an empty list always means a user without posts.
func (a *API) listUserPosts(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	limit, offset, err := page(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	client := tenantClient(ctx)
	ps, err := client.Post.Query().
		Where(post.AuthorID(id)).
		Order(ent.Asc(post.FieldCreatedAt), ent.Asc(post.FieldID)).
		Limit(limit).Offset(offset).
		All(ctx)
	if err != nil {
		return fmt.Errorf("list posts of user: %w", err)
	}
	if len(ps) == 0 {
		ok, err := client.User.Query().Where(user.ID(id)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("list posts of user: %w", err)
		}
		if !ok {
			return errUserNotFound
		}
	}
	return a.encode(w, r, http.StatusOK, listOf(ps, newPostResponse))
}

// createPost serves POST /posts. The author must be a user of the request's
// tenant: the foreign key is inside the tenant schema, so an id from another
// tenant fails it like an unknown one (422).
func (a *API) createPost(w http.ResponseWriter, r *http.Request) error {
	req, err := decode[createPostRequest](a, w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p, err := tenantClient(ctx).Post.Create().
		SetTitle(req.Title).
		SetNillableContent(req.Content).
		SetAuthorID(uuid.MustParse(req.AuthorID)).
		Save(ctx)
	switch {
	case ent.IsConstraintError(err):
		return errAuthorMissing
	case err != nil:
		return fmt.Errorf("create post: %w", err)
	}
	w.Header().Set("Location", "/posts/"+p.ID.String())
	return a.encode(w, r, http.StatusCreated, newPostResponse(p))
}

func (a *API) getPost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p, err := tenantClient(ctx).Post.Get(ctx, id)
	switch {
	case ent.IsNotFound(err):
		return errPostNotFound
	case err != nil:
		return fmt.Errorf("get post: %w", err)
	}
	return a.encode(w, r, http.StatusOK, newPostResponse(p))
}

func (a *API) updatePost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	req, err := decode[updatePostRequest](a, w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	client := tenantClient(ctx)
	var p *ent.Post
	if req.Title == nil && req.Content == nil && req.AuthorID == nil {
		p, err = client.Post.Get(ctx, id)
	} else {
		upd := client.Post.UpdateOneID(id)
		if req.Title != nil {
			upd.SetTitle(*req.Title)
		}
		if req.Content != nil {
			upd.SetContent(*req.Content)
		}
		if req.AuthorID != nil {
			upd.SetAuthorID(uuid.MustParse(*req.AuthorID))
		}
		p, err = upd.Save(ctx)
	}
	switch {
	case ent.IsNotFound(err):
		return errPostNotFound
	case ent.IsConstraintError(err):
		return errAuthorMissing
	case err != nil:
		return fmt.Errorf("update post: %w", err)
	}
	return a.encode(w, r, http.StatusOK, newPostResponse(p))
}

func (a *API) deletePost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	err = tenantClient(ctx).Post.DeleteOneID(id).Exec(ctx)
	switch {
	case ent.IsNotFound(err):
		return errPostNotFound
	case err != nil:
		return fmt.Errorf("delete post: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
