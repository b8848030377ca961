"""The staff pages, one router per role: account (login, logout, password), search (and exports), documents,
libraries, sources (and 立即抓取), subscriptions (and the delivery log), overview (概览)."""
