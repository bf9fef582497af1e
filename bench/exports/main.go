// Command exports measures sales exports at scale: time, peak heap, peak
// RSS and file size for 1,000,000 sales to CSV and XLSX.
//
//	go run ./bench/exports -db file:/tmp/exports.db -seed 1000000
//	go run ./bench/exports -db file:/tmp/exports.db -format csv -out /tmp/sales.csv
//	go run ./bench/exports -db file:/tmp/exports.db -format xlsx -out /tmp/sales.xlsx
//
// -seed signs up a merchant and bulk-inserts sales (one line and one
// tender each) straight through ent in large transactions, far faster
// than the API would. An export run reads the merchant the seed made and
// writes the file with the writer the export job uses. Run each step as
// its own process, so that the peak RSS it reports is that step's alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/exportjob"
	"github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/exports"
	"github.com/tillpos/till/merchants"
)

func main() {
	dbURL := flag.String("db", "file:exports-bench.db", "database URL (sqlite file or postgres://)")
	seed := flag.Int("seed", 0, "insert this many sales for a new merchant, then exit")
	format := flag.String("format", "csv", "csv or xlsx")
	kind := flag.String("kind", "transactions", "transactions or lines")
	out := flag.String("out", os.DevNull, "file to write")
	flag.Parse()
	ctx := viewer.NewSystemContext(context.Background(), "bench")
	d, err := db.Open(ctx, *dbURL, 4)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if *seed > 0 {
		if err := d.Migrate(ctx); err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		if err := seedSales(ctx, d.Client, *seed); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("seeded %d sales in %s\n", *seed, time.Since(start).Round(time.Millisecond))
		return
	}
	m, err := d.Merchant.Query().Order(ent.Desc(merchant.FieldCreatedAt)).First(ctx)
	if err != nil {
		log.Fatal("no merchant: seed first: ", err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	spec := exports.Spec{MerchantID: m.ID, Format: exportjob.Format(upper(*format)), Kind: exportjob.Kind(upper(*kind))}
	var peakHeap atomic.Uint64
	stop := sampleHeap(&peakHeap)
	start := time.Now()
	rows, err := exports.Write(ctx, d.Client, spec, f, func(rows int64) error {
		if rows%100000 == 0 {
			fmt.Fprintf(os.Stderr, "%d rows at %s\n", rows, time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	elapsed := time.Since(start)
	stop()
	info, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("%s %s: %d rows in %s (%.0f rows/s); file %.1f MiB; peak HeapInuse %.1f MiB; max RSS %.1f MiB\n",
		spec.Format, spec.Kind, rows, elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds(),
		float64(info.Size())/(1<<20), float64(peakHeap.Load())/(1<<20), float64(ru.Maxrss)/1024)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// sampleHeap records the largest HeapInuse every 20ms until stopped.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// seedSales signs up a merchant and inserts n sales over the past year,
// each with one line and one cash or card tender.
func seedSales(ctx context.Context, client *ent.Client, n int) error {
	owner, err := merchants.New(client, password.NewHasher(bcrypt.MinCost)).SignUp(ctx, merchants.SignUpInput{
		MerchantName: "Bench Tea", OwnerName: "Mei", Email: "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@example.com",
		Password: "correct horse battery", Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "en",
	})
	if err != nil {
		return err
	}
	storeID, err := client.Store.Query().Where(store.MerchantID(owner.MerchantID)).FirstID(ctx)
	if err != nil {
		return err
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	start := time.Now().Add(-365 * 24 * time.Hour)
	step := 365 * 24 * time.Hour / time.Duration(n)
	// SQLite allows 32766 variables a statement: a sale has about 30 columns.
	const perStatement, perTx = 800, 20000
	for done := 0; done < n; {
		err := db.WithTx(ctx, client, func(tx *ent.Tx) error {
			for end := min(done+perTx, n); done < end; {
				k := min(perStatement, end-done)
				salesB := make([]*ent.SaleCreate, k)
				ids := make([]pulid.ID, k)
				for i := range k {
					seq := done + i
					at := start.Add(time.Duration(seq) * step).Truncate(time.Microsecond)
					price := int64(500 + seq%5000)
					ids[i] = pulid.New("sal")
					salesB[i] = tx.Sale.Create().SetID(ids[i]).SetMerchantID(owner.MerchantID).
						SetIdempotencyKey("seed-" + strconv.Itoa(seq)).SetRequestHash("seed").
						SetStoreID(storeID).SetCashierID(owner.ID).SetReceiptNumber(int64(seq + 1)).
						SetCurrency("CNY").SetSubtotal(price).SetOrderDiscount(0).SetDiscountTotal(0).
						SetTaxTotal(price * 6 / 106).SetTotal(price).SetChangeDue(0).SetPricesIncludeTax(true).
						SetOccurredAt(at).SetBusinessDate(at.In(loc).Format(time.DateOnly))
				}
				if err := tx.Sale.CreateBulk(salesB...).Exec(ctx); err != nil {
					return fmt.Errorf("sales: %w", err)
				}
				lines := make([]*ent.SaleLineCreate, k)
				tenders := make([]*ent.TenderCreate, k)
				for i := range k {
					seq := done + i
					price := int64(500 + seq%5000)
					lines[i] = tx.SaleLine.Create().SetMerchantID(owner.MerchantID).SetSaleID(ids[i]).SetPosition(0).
						SetName("Jasmine tea").SetSku("JT-" + strconv.Itoa(seq%200)).SetCategory("Tea").SetQuantity(1).
						SetUnitPrice(price).SetLineDiscount(0).SetOrderDiscount(0).SetTaxRateBp(600).
						SetTax(price * 6 / 106).SetTotal(price)
					t := tx.Tender.Create().SetMerchantID(owner.MerchantID).SetSaleID(ids[i]).SetAmount(price)
					if seq%3 == 0 {
						t.SetType(tender.TypeCARD).SetCardBrand("visa").SetCardLast4("4242").SetReference("ref-" + strconv.Itoa(seq))
					} else {
						t.SetType(tender.TypeCASH)
					}
					tenders[i] = t
				}
				if err := tx.SaleLine.CreateBulk(lines...).Exec(ctx); err != nil {
					return fmt.Errorf("lines: %w", err)
				}
				if err := tx.Tender.CreateBulk(tenders...).Exec(ctx); err != nil {
					return fmt.Errorf("tenders: %w", err)
				}
				done += k
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "\rseeded %d", done)
	}
	fmt.Fprintln(os.Stderr)
	return nil
}
