from dash import html
def layout(services, scope, lang, case_no): return html.Div(case_no)
def search_layout(services, scope, lang, query): return html.Div("search")
