package sales

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
)

func TestCheckTenders(t *testing.T) {
	t.Parallel()
	last4, brand, ref, pan := "4242", "visa", "T1", "4111111111111111"
	wechat := tender.WalletWECHAT_PAY
	tendered := func(v int64) *int64 { return &v }

	change, err := checkTenders([]TenderInput{
		{Type: tender.TypeCASH, Amount: 500, Tendered: tendered(1000)},
		{Type: tender.TypeCARD, Amount: 300, CardLast4: &last4, CardBrand: &brand, Reference: &ref},
		{Type: tender.TypeMOBILE_WALLET, Amount: 200, Wallet: &wechat},
	}, 1000, "tenders")
	require.NoError(t, err)
	require.Equal(t, int64(500), change)

	refused := []struct {
		name      string
		tenders   []TenderInput
		wantField string
	}{
		{"short", []TenderInput{{Type: tender.TypeCASH, Amount: 999}}, "tenders"},
		{"zero amount", []TenderInput{{Type: tender.TypeCASH, Amount: 0}, {Type: tender.TypeCASH, Amount: 1000}}, "tenders[0].amount"},
		{"cash tendered short", []TenderInput{{Type: tender.TypeCASH, Amount: 1000, Tendered: tendered(900)}}, "tenders[0].tendered"},
		{"card without last four", []TenderInput{{Type: tender.TypeCARD, Amount: 1000}}, "tenders[0].cardLast4"},
		{"full card number as reference", []TenderInput{{Type: tender.TypeCARD, Amount: 1000, CardLast4: &last4, Reference: &pan}}, "tenders[0].reference"},
		{"full card number as last four", []TenderInput{{Type: tender.TypeCARD, Amount: 1000, CardLast4: &pan}}, "tenders[0].cardLast4"},
		{"wallet unnamed", []TenderInput{{Type: tender.TypeMOBILE_WALLET, Amount: 1000}}, "tenders[0].wallet"},
		{"exchange credit from a client", []TenderInput{{Type: tender.TypeEXCHANGE, Amount: 1000}}, "tenders[0].type"},
		{"card tendered", []TenderInput{{Type: tender.TypeCARD, Amount: 1000, CardLast4: &last4, Tendered: tendered(1000)}}, "tenders[0].tendered"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkTenders(tt.tenders, 1000, "tenders")
			e, ok := errs.As(err)
			require.True(t, ok, "want a coded error, got %v", err)
			require.Equal(t, errs.BadUserInput, e.Code)
			require.Equal(t, tt.wantField, e.Field)
			require.NotContains(t, e.Message, pan, "the message never repeats a card number")
		})
	}
}
