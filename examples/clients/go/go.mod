module ledgerclient

go 1.19
