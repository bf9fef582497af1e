package graph

// This file will not be regenerated automatically.
//
// It serves as dependency injection for your app, add any dependencies you require here.

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/tillpos/till/auth"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/staff"
)

// Resolver holds the services the resolvers call.
type Resolver struct {
	client    *ent.Client
	auth      *auth.Service
	merchants *merchants.Service
	staff     *staff.Service
}

// NewSchema returns Till's executable GraphQL schema.
func NewSchema(client *ent.Client, authSvc *auth.Service, merchantSvc *merchants.Service, staffSvc *staff.Service) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: &Resolver{
		client: client, auth: authSvc, merchants: merchantSvc, staff: staffSvc,
	}})
}
