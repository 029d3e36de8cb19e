"""The import options for the Online Retail export, shared by the segment tests."""

IMPORT_ARGS = [
    "--customer-col",
    "CustomerID",
    "--date-col",
    "InvoiceDate",
    "--quantity-col",
    "Quantity",
    "--price-col",
    "UnitPrice",
    "--product-col",
    "StockCode",
    "--invoice-col",
    "InvoiceNo",
    "--region-col",
    "Country",
]
