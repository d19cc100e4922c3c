package dynamo

import (
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// placeholders maps every expression attribute name placeholder the store
// uses to its attribute.
var placeholders = map[string]string{
	"#pk": attrPK, "#sk": attrSK, "#v": attrVersion, "#rec": attrRecord, "#bot": attrBot,
	"#tomb": attrTomb, "#keep": attrKeep, "#due": attrDue, "#shard": attrShard, "#exp": attrExpMs, "#owner": attrOwner,
	"#user": "user", "#id": "id", "#tok": "tok", "#rtok": "rtok", "#uexp": "exp", "#at": "at",
}

var (
	namePat  = regexp.MustCompile(`#[a-z]+`)
	valuePat = regexp.MustCompile(`:[a-zA-Z0-9]+`)
)

// names returns the ExpressionAttributeNames the expressions use: DynamoDB
// refuses unused ones.
func names(exprs ...string) map[string]string {
	out := map[string]string{}
	for _, e := range exprs {
		for _, p := range namePat.FindAllString(e, -1) {
			if a, ok := placeholders[p]; ok {
				out[p] = a
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// values returns the ExpressionAttributeValues of all that the expressions
// use.
func values(all map[string]av, exprs ...string) map[string]av {
	out := map[string]av{}
	for _, e := range exprs {
		for _, p := range valuePat.FindAllString(e, -1) {
			if v, ok := all[p]; ok {
				out[p] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// upd is an UpdateItem under construction: SET and REMOVE actions, a
// condition, and the values they use.
type upd struct {
	key    map[string]av
	set    []string
	remove []string
	cond   string
	vals   map[string]av
}

func newUpd(key map[string]av) *upd { return &upd{key: key, vals: map[string]av{}} }

// Set adds "SET placeholder = :name" with value v.
func (u *upd) Set(placeholder, name string, v av) *upd {
	u.set = append(u.set, placeholder+" = "+name)
	u.vals[name] = v
	return u
}

// Remove adds REMOVE actions.
func (u *upd) Remove(paths ...string) *upd {
	u.remove = append(u.remove, paths...)
	return u
}

// Due sets the due index attributes for due (removes them when zero) of an
// item of partition pk.
func (u *upd) Due(pk string, due time.Time) *upd {
	if due.IsZero() {
		return u.Remove("#due", "#shard")
	}
	return u.Set("#due", ":due", nAV(due.UnixMilli())).Set("#shard", ":shard", sAV(dueShard(pk)))
}

// If sets the condition; vals are the values it uses.
func (u *upd) If(cond string, vals map[string]av) *upd {
	u.cond = cond
	for k, v := range vals {
		u.vals[k] = v
	}
	return u
}

func (u *upd) expr() string {
	var b strings.Builder
	if len(u.set) > 0 {
		b.WriteString("SET " + strings.Join(u.set, ", "))
	}
	if len(u.remove) > 0 {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString("REMOVE " + strings.Join(u.remove, ", "))
	}
	return b.String()
}

// build returns the update as a transaction item, returning the old item
// when its condition fails.
func (u *upd) build(table string) *types.Update {
	e := u.expr()
	out := &types.Update{
		TableName:                           aws.String(table),
		Key:                                 u.key,
		UpdateExpression:                    aws.String(e),
		ExpressionAttributeNames:            names(e, u.cond),
		ExpressionAttributeValues:           values(u.vals, e, u.cond),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if u.cond != "" {
		out.ConditionExpression = aws.String(u.cond)
	}
	return out
}
