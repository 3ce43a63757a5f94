package codegen

import (
	"fmt"

	"entgo.io/ent/entc/gen"
)

// layout is where each table of a graph lives, in the form the template of
// pgtenant.go reads.
type layout struct {
	// Fields are the fields of the generated SchemaConfig, in the order Ent
	// declares them, each with its placement.
	Fields []configField
	// Tenant and Shared are the names of the tables of migrate.Tables that
	// live in each tenant schema and in public, in migrate.Tables' order.
	Tenant, Shared []string
}

// configField is one field of the generated SchemaConfig.
type configField struct {
	Name   string
	Shared bool
}

// newLayout places every table of g: an entity's table by its annotation, a
// join table with the two entities it joins, which must agree. It fails
// with an error wrapping ErrPlacement when a table cannot be placed.
func newLayout(g *gen.Graph) (*layout, error) {
	shared := make(map[*gen.Type]bool, len(g.Nodes))
	for _, n := range g.Nodes {
		s, err := isShared(n)
		if err != nil {
			return nil, err
		}
		shared[n] = s
	}
	l := &layout{}
	tableShared := make(map[string]bool)
	entity := make(map[string]string) // entity name by table name
	for _, n := range g.Nodes {
		l.Fields = append(l.Fields, configField{Name: n.Name, Shared: shared[n]})
		tableShared[n.Table()] = shared[n]
		entity[n.Table()] = n.Name
		// The same edges as Ent's SchemaConfig: one field per
		// many-to-many edge, on the side that declares it with edge.To.
		for _, e := range n.Edges {
			if !e.M2M() || e.IsInverse() {
				continue
			}
			through := e.Through
			if through == nil && e.Ref != nil {
				through = e.Ref.Through
			}
			var s bool
			switch {
			case through != nil:
				// The join table is the edge schema's own; the
				// field qualifies it when the inverse edge is
				// traversed.
				s = shared[through]
			case shared[n] != shared[e.Type]:
				return nil, fmt.Errorf("%w: edge %q of %s joins %s and %s, so their join table %q belongs neither in the tenant schemas nor in public; "+
					"annotate both entities with entpgtenant.Shared() or neither, or declare the edge through an edge schema (edge.Through) that is a tenant entity",
					ErrPlacement, e.Name, n.Name, describe(n, shared[n]), describe(e.Type, shared[e.Type]), e.Rel.Table)
			default:
				s = shared[n]
				tableShared[e.Rel.Table] = s
			}
			l.Fields = append(l.Fields, configField{Name: n.Name + e.StructField(), Shared: s})
		}
	}
	tables, err := g.Tables()
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		s, ok := tableShared[t.Name]
		if !ok {
			return nil, fmt.Errorf("%w: table %q belongs to no entity or edge of the graph", ErrPlacement, t.Name)
		}
		if s {
			for _, fk := range t.ForeignKeys {
				if !tableShared[fk.RefTable.Name] {
					return nil, fmt.Errorf("%w: shared table %q has foreign key %q to tenant table %q, which exists once per tenant schema; "+
						"declare the edge so that the tenant table holds the foreign key, or annotate %s with entpgtenant.Shared()",
						ErrPlacement, t.Name, fk.Symbol, fk.RefTable.Name, entity[fk.RefTable.Name])
				}
			}
			l.Shared = append(l.Shared, t.Name)
		} else {
			l.Tenant = append(l.Tenant, t.Name)
		}
	}
	return l, nil
}

// describe names n and its placement for error messages.
func describe(n *gen.Type, shared bool) string {
	if shared {
		return "shared entity " + n.Name
	}
	return "tenant entity " + n.Name
}
