// Command plot draws one PNG line chart from CSV files of samples, a line per
// file: each row "seconds,value" (a header row is skipped), the series named
// after the file.
//
//	go run ./scripts/bench.d/plot -o out.png -title T -y "MB" a.csv b.csv
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

type series struct {
	name string
	x, y []float64
}

var palette = []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255}}

func main() {
	out := flag.String("o", "plot.png", "output PNG")
	title := flag.String("title", "", "chart title")
	ylabel := flag.String("y", "", "unit of the values")
	flag.Parse()
	var all []series
	for _, f := range flag.Args() {
		s, err := read(f)
		if err != nil {
			log.Fatal(err)
		}
		all = append(all, s)
	}
	if len(all) == 0 {
		log.Fatal("plot: no CSV files")
	}
	if err := draw1(*out, *title, *ylabel, all); err != nil {
		log.Fatal(err)
	}
}

func read(path string) (series, error) {
	f, err := os.Open(path)
	if err != nil {
		return series{}, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return series{}, fmt.Errorf("%s: %w", path, err)
	}
	s := series{name: strings.TrimSuffix(filepath.Base(path), ".csv")}
	for _, r := range rows {
		if len(r) < 2 {
			continue
		}
		x, err1 := strconv.ParseFloat(r[0], 64)
		y, err2 := strconv.ParseFloat(r[1], 64)
		if err1 != nil || err2 != nil {
			continue // the header
		}
		s.x, s.y = append(s.x, x), append(s.y, y)
	}
	return s, nil
}

func draw1(path, title, ylabel string, all []series) error {
	const w, h, left, right, top, bottom = 900, 500, 70, 20, 40, 50
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	var xmax, ymax float64
	for _, s := range all {
		for i := range s.x {
			xmax, ymax = math.Max(xmax, s.x[i]), math.Max(ymax, s.y[i])
		}
	}
	xmax, ymax = math.Max(xmax, 1), nice(ymax)
	px := func(x float64) int { return left + int(x/xmax*float64(w-left-right)) }
	py := func(y float64) int { return h - bottom - int(y/ymax*float64(h-top-bottom)) }
	grey := color.RGBA{200, 200, 200, 255}
	for i := 0; i <= 5; i++ {
		y := ymax * float64(i) / 5
		line(img, left, py(y), w-right, py(y), grey)
		text(img, 5, py(y)+4, strconv.FormatFloat(y, 'f', -1, 64), color.Black)
		x := xmax * float64(i) / 5
		line(img, px(x), top, px(x), h-bottom, grey)
		text(img, px(x)-10, h-bottom+16, strconv.FormatFloat(math.Round(x), 'f', -1, 64)+"s", color.Black)
	}
	text(img, left, 20, title, color.Black)
	text(img, 5, top-8, ylabel, color.Black)
	for i, s := range all {
		c := palette[i%len(palette)]
		for j := 1; j < len(s.x); j++ {
			line(img, px(s.x[j-1]), py(s.y[j-1]), px(s.x[j]), py(s.y[j]), c)
		}
		text(img, w-right-260, top+16*(i+1), "-- "+s.name, c)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// nice rounds v up to 1, 2 or 5 times a power of ten.
func nice(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		x := x0 + (x1-x0)*i/n
		y := y0 + (y1-y0)*i/n
		img.Set(x, y, c)
		img.Set(x, y+1, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
