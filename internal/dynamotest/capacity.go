package dynamotest

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Units are consumed capacity units.
type Units struct {
	Read, Write float64
}

// Capacity asks DynamoDB for the capacity every call consumes
// (ReturnConsumedCapacity=TOTAL, set on each request) and adds it up, by
// operation. Add it to a client with [Capacity.Option]. Calls that report no
// consumed capacity count nothing.
type Capacity struct {
	mu   sync.Mutex
	byOp map[string]Units
}

// Option returns the client option that makes the client ask for and
// record consumed capacity.
func (c *Capacity) Option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("installvaultCapacity",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					askCapacity(in.Parameters)
					out, md, err := next.HandleInitialize(ctx, in)
					if err == nil {
						caps, read := consumed(out.Result)
						c.add(middleware.GetOperationName(ctx), caps, read)
					}
					return out, md, err
				}), middleware.After)
		})
	}
}

func askCapacity(params any) {
	total := types.ReturnConsumedCapacityTotal
	switch p := params.(type) {
	case *dynamodb.GetItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.PutItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.UpdateItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.DeleteItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.ScanInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.BatchGetItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.BatchWriteItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.TransactGetItemsInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.TransactWriteItemsInput:
		p.ReturnConsumedCapacity = total
	}
}

// consumed returns what an output reports, and whether it is a read
// operation's.
func consumed(result any) (caps []types.ConsumedCapacity, read bool) {
	one := func(c *types.ConsumedCapacity) []types.ConsumedCapacity {
		if c == nil {
			return nil
		}
		return []types.ConsumedCapacity{*c}
	}
	switch r := result.(type) {
	case *dynamodb.GetItemOutput:
		return one(r.ConsumedCapacity), true
	case *dynamodb.QueryOutput:
		return one(r.ConsumedCapacity), true
	case *dynamodb.ScanOutput:
		return one(r.ConsumedCapacity), true
	case *dynamodb.BatchGetItemOutput:
		return r.ConsumedCapacity, true
	case *dynamodb.TransactGetItemsOutput:
		return r.ConsumedCapacity, true
	case *dynamodb.PutItemOutput:
		return one(r.ConsumedCapacity), false
	case *dynamodb.UpdateItemOutput:
		return one(r.ConsumedCapacity), false
	case *dynamodb.DeleteItemOutput:
		return one(r.ConsumedCapacity), false
	case *dynamodb.BatchWriteItemOutput:
		return r.ConsumedCapacity, false
	case *dynamodb.TransactWriteItemsOutput:
		return r.ConsumedCapacity, false
	}
	return nil, false
}

func (c *Capacity) add(op string, caps []types.ConsumedCapacity, read bool) {
	var u Units
	for _, cc := range caps {
		switch {
		case cc.ReadCapacityUnits != nil || cc.WriteCapacityUnits != nil:
			if cc.ReadCapacityUnits != nil {
				u.Read += *cc.ReadCapacityUnits
			}
			if cc.WriteCapacityUnits != nil {
				u.Write += *cc.WriteCapacityUnits
			}
		case cc.CapacityUnits != nil && read:
			u.Read += *cc.CapacityUnits
		case cc.CapacityUnits != nil:
			u.Write += *cc.CapacityUnits
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byOp == nil {
		c.byOp = map[string]Units{}
	}
	cur := c.byOp[op]
	cur.Read += u.Read
	cur.Write += u.Write
	c.byOp[op] = cur
}

// ByOperation returns a copy of the units so far, by operation name.
func (c *Capacity) ByOperation() map[string]Units {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Units, len(c.byOp))
	for k, v := range c.byOp {
		out[k] = v
	}
	return out
}

// Total returns the units so far.
func (c *Capacity) Total() Units {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t Units
	for _, u := range c.byOp {
		t.Read += u.Read
		t.Write += u.Write
	}
	return t
}

// Reset forgets the units.
func (c *Capacity) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byOp = nil
}
