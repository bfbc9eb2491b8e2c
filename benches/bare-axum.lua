-- wrk script for `bare-axum`: the same ~300-byte transfer body on every request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"source_account_number":"10000001","destination_account_number":"10000002",'
  .. '"transaction_amount":"12.3400","client_service_code":"BENCH-SVC",'
  .. '"source_transaction_id":"bench-000000000001","transaction_source":"walletd-bench",'
  .. '"narration":"bare axum ceiling","source_transaction_data":{"order":"A-1","channel":"web"}}'
