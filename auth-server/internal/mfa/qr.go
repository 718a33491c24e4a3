package mfa

import (
	"encoding/base64"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSize is the QR code's width and height in pixels.
const qrSize = 256

// QRPNG is the QR code of uri as a PNG image (error correction level M).
func QRPNG(uri string) ([]byte, error) {
	png, err := qrcode.Encode(uri, qrcode.Medium, qrSize)
	if err != nil {
		return nil, fmt.Errorf("mfa: qr code: %w", err)
	}
	return png, nil
}

// DataURI is png as a data: URI (data:image/png;base64,…), ready for an <img src>.
func DataURI(png []byte) string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
}
