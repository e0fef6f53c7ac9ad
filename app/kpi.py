def start_refresher(services): pass
