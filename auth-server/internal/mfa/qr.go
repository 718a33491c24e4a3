package mfa

import (
	"encoding/base64"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// qrModulePixels is the width of one QR module in pixels: a whole number, so the image is
// crisp (an otpauth URI is a version 8 code, 49 modules and the 4-module quiet zone on each
// side: 285 pixels).
const qrModulePixels = 5

// QRPNG is the QR code of uri as a PNG image (error correction level M, with its quiet zone).
func QRPNG(uri string) ([]byte, error) {
	q, err := qrcode.New(uri, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("mfa: qr code: %w", err)
	}
	png, err := q.PNG(-qrModulePixels)
	if err != nil {
		return nil, fmt.Errorf("mfa: qr code: %w", err)
	}
	return png, nil
}

// DataURI is png as a data: URI (data:image/png;base64,…), ready for an <img src>.
func DataURI(png []byte) string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
}
