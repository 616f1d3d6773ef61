module example.com/unmodified

go 1.25.0
