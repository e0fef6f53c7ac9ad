from dash import html
def layout(services, scope, lang, query): return html.Div("wall")
