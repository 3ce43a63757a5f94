package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// handlerFunc is an http.HandlerFunc that returns its error instead of
// writing it; wrap turns it into an http.HandlerFunc.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// errorBody is the body of every error response.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// statusError is an error with a status and a client-facing message chosen by
// the handler (e.g. 404 "User not found"). err, if any, is the cause, which is
// logged but never sent.
type statusError struct {
	status int
	msg    string
	err    error
}

func (e *statusError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *statusError) Unwrap() error { return e.err }

func errorf(status int, msg string) error { return &statusError{status: status, msg: msg} }

// badRequest is a 400 whose cause is the decoding error.
func badRequest(msg string, err error) error {
	return &statusError{status: http.StatusBadRequest, msg: msg, err: err}
}

// validationError is a request that decoded but failed validation: 422 with
// one message per offending field, keyed by the field's JSON name.
type validationError struct {
	fields map[string]string
}

func (e *validationError) Error() string {
	keys := make([]string, 0, len(e.fields))
	for k, v := range e.fields {
		keys = append(keys, k+": "+v)
	}
	return "validation failed: " + strings.Join(keys, ", ")
}

func invalidField(field, msg string) error {
	return &validationError{fields: map[string]string{field: msg}}
}

// writeError is the one mapping from errors to responses (see the package
// documentation for the table). 5xx bodies are always "Internal server error"
// (or the 503 message); the cause is logged once, here, with the request id.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(err)
	ctx := r.Context()
	if status >= 500 && errors.Is(ctx.Err(), context.Canceled) {
		// The client went away while the query ran: lib/pq cancels the
		// statement and reports the server's 57014, not the context's error.
		status, body = classify(context.Canceled)
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if status >= 500 {
		a.log.ErrorContext(ctx, "request failed",
			"request_id", middleware.GetReqID(ctx), "tenant", logTenant(ctx),
			"method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if err := writeJSON(w, status, body); err != nil {
		a.log.DebugContext(ctx, "write error response", "request_id", middleware.GetReqID(ctx), "err", err)
	}
}

// classify maps err to a status and a response body.
func classify(err error) (int, errorBody) {
	var (
		se  *statusError
		ve  *validationError
		mbe *http.MaxBytesError
		eve *ent.ValidationError
	)
	switch {
	case errors.As(err, &se):
		if se.status >= 500 && se.status != http.StatusServiceUnavailable {
			return se.status, errorBody{Error: "Internal server error"}
		}
		return se.status, errorBody{Error: se.msg}
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, errorBody{Error: "Validation failed", Fields: ve.fields}
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, errorBody{Error: "Request body too large"}
	case ent.IsNotFound(err):
		return http.StatusNotFound, errorBody{Error: "Not found"}
	case ent.IsConstraintError(err):
		return http.StatusConflict, errorBody{Error: "Conflict"}
	case errors.Is(err, migrate.ErrDropping):
		return http.StatusConflict, errorBody{Error: "Tenant is being dropped; finish the drop (DELETE /admin/tenants/{id}) before creating it again"}
	case errors.As(err, &eve):
		return http.StatusUnprocessableEntity, errorBody{Error: "Validation failed",
			Fields: map[string]string{jsonName(eve.Name): "is invalid"}}
	}
	// The tenant half of the table, shared with the tenant middleware.
	status, msg := tenant.ErrorStatus(err)
	return status, errorBody{Error: msg}
}

// jsonName turns an ent field name (snake_case) into its JSON key.
func jsonName(field string) string {
	parts := strings.Split(field, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] == "id" {
			parts[i] = "Id"
		} else if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// encode writes v with status. A value that cannot be encoded is an error
// (answered 500, as nothing was sent yet); a failure to write means the
// client went away: it is logged at debug level, not reported.
func (a *API) encode(w http.ResponseWriter, r *http.Request, status int, v any) error {
	if err := writeJSON(w, status, v); errors.Is(err, errEncode) {
		return err
	} else if err != nil {
		a.log.DebugContext(r.Context(), "write response",
			"request_id", middleware.GetReqID(r.Context()), "err", err)
	}
	return nil
}

// decode reads the JSON object of type T that is r's body, at most a.maxBody
// bytes, and validates it. Names match the JSON tags exactly (letter case
// included); a body that is not one object, names a field twice or names a
// field T does not have, or has anything but white space after the object,
// is a 400 whose message names the problem.
func decode[T any](a *API, w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if err := decodeObject(http.MaxBytesReader(w, r.Body, a.maxBody), &v); err != nil {
		return v, err
	}
	if err := a.validate.StructCtx(r.Context(), v); err != nil {
		return v, validationErrors(err)
	}
	return v, nil
}

// bodyOptions are the decoding rules of request bodies beyond those of
// jsontext and json by default (case-sensitive names, duplicate names
// refused, UTF-8 only): names the request type does not have are refused.
var bodyOptions = json.RejectUnknownMembers(true)

// decoders recycles the decoders of request bodies; a decoder is about 5 KB
// before it has read anything, and recycling it makes decoding allocation
// free.
var decoders = sync.Pool{New: func() any { return jsontext.NewDecoder(http.NoBody) }}

// maxPooledBody is the largest body after which a decoder is recycled, so
// the pool never pins the buffer of a large body.
const maxPooledBody = 64 << 10

// decodeObject decodes the JSON object that is body into v, a pointer to a
// struct.
func decodeObject(body io.Reader, v any) error {
	dec := decoders.Get().(*jsontext.Decoder)
	dec.Reset(body)
	defer func() {
		big := dec.InputOffset() > maxPooledBody
		dec.Reset(http.NoBody) // do not pin body
		if !big {
			decoders.Put(dec)
		}
	}()
	if dec.PeekKind() != '{' {
		// Not an object, an empty body, or a syntax error (PeekKind then
		// reports 0 and ReadToken the error).
		_, err := dec.ReadToken()
		var mbe *http.MaxBytesError
		var se *jsontext.SyntacticError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.As(err, &se) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return badRequest("Malformed JSON", err)
		}
		return badRequest("Request body must be a JSON object", err)
	}
	if err := json.UnmarshalDecode(dec, v, bodyOptions); err != nil {
		return decodeError(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("Unexpected data after the JSON object", err)
	}
	return nil
}

// decodeError turns an error of json.UnmarshalDecode into the error answered.
func decodeError(err error) error {
	var (
		mbe *http.MaxBytesError
		sem *json.SemanticError
		syn *jsontext.SyntacticError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &syn) && errors.Is(err, jsontext.ErrDuplicateName):
		return badRequest(fmt.Sprintf("Duplicate field %.64q", syn.JSONPointer.LastToken()), err)
	case errors.As(err, &sem) && errors.Is(err, json.ErrUnknownName):
		return badRequest(fmt.Sprintf("Unknown field %.64q", sem.JSONPointer.LastToken()), err)
	case errors.As(err, &sem) && sem.GoType != nil && sem.JSONPointer != "":
		return badRequest(fmt.Sprintf("Field %.64q must be of type %s", sem.JSONPointer.LastToken(), jsonType(sem.GoType)), err)
	}
	return badRequest("Malformed JSON", err)
}

func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

// newValidator returns the validator of an API, reporting fields by their
// JSON names.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// PostgreSQL text cannot hold NUL; reject it as a validation failure
	// instead of letting the insert fail with a 500.
	if err := v.RegisterValidation("nonul", func(fl validator.FieldLevel) bool {
		return !strings.ContainsRune(fl.Field().String(), 0)
	}); err != nil {
		panic(err)
	}
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// validationErrors turns the validator's error into a *validationError.
func validationErrors(err error) error {
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return err
	}
	fields := make(map[string]string, len(ves))
	for _, fe := range ves {
		fields[fe.Field()] = fieldMessage(fe)
	}
	return &validationError{fields: fields}
}

func fieldMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "uuid", "uuid4":
		return "must be a UUID"
	case "max":
		return "must be at most " + fe.Param() + " characters"
	case "min":
		if fe.Param() == "1" {
			return "must not be empty"
		}
		return "must be at least " + fe.Param() + " characters"
	case "nonul":
		return "must not contain NUL characters"
	}
	return "is invalid (" + fe.Tag() + ")"
}

// pathID parses the {id} path parameter as a UUID: 400 when malformed.
func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, badRequest("Invalid id: must be a UUID", err)
	}
	return id, nil
}

// Pagination defaults of list routes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// page reads ?limit= (1..maxLimit, default defaultLimit) and ?offset= (≥ 0,
// default 0); out-of-range or non-numeric values are a 400.
func page(r *http.Request) (limit, offset int, err error) {
	q := r.URL.Query()
	limit, offset = defaultLimit, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, badRequest(fmt.Sprintf("limit must be an integer from 1 to %d", maxLimit), err)
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, 0, badRequest("offset must be a non-negative integer", err)
		}
		offset = n
	}
	return limit, offset, nil
}
