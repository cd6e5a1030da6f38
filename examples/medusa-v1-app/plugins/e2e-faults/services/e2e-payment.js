'use strict'
// Test-only payment processor `e2e` (provider id "e2e"): authorizes every payment, like
// medusa-payment-manual, except that its status check answers "error" for a cart created with
// `context: { e2e_fail_order_creation: true }`.
//
// Why a payment processor: in Medusa 1.20.11's cart completion (strategies/cart-completion.js,
// handlePaymentAuthorized) the reservations are made first, then `orderService.createFromCart`
// asks the provider for the payment's status (`paymentProviderService.getStatus`) and throws
// "Payment method is not authorized" unless it is "authorized". All of it runs in one
// transaction, so a failing status check is a real failure *after* the inventory write.
const { AbstractPaymentProcessor, PaymentSessionStatus } = require('@medusajs/medusa')

const FLAG = 'e2e_fail_order_creation'

class E2ePaymentProcessor extends AbstractPaymentProcessor {
  static identifier = 'e2e'

  constructor(container, options) {
    super(container, options)
  }

  sessionData(context, previous = {}) {
    const fail = Boolean(context && context.context && context.context[FLAG])
    return { ...previous, status: previous.status || PaymentSessionStatus.PENDING, [FLAG]: fail }
  }

  async initiatePayment(context) {
    return { session_data: this.sessionData(context) }
  }

  async updatePayment(context) {
    return { session_data: this.sessionData(context, context.paymentSessionData) }
  }

  async updatePaymentData(sessionId, data) {
    return data
  }

  async authorizePayment(paymentSessionData) {
    return {
      status: PaymentSessionStatus.AUTHORIZED,
      data: { ...paymentSessionData, status: PaymentSessionStatus.AUTHORIZED },
    }
  }

  async getPaymentStatus(paymentSessionData) {
    if (paymentSessionData && paymentSessionData[FLAG]) return PaymentSessionStatus.ERROR
    return (paymentSessionData && paymentSessionData.status) || PaymentSessionStatus.PENDING
  }

  async capturePayment(paymentSessionData) {
    return { ...paymentSessionData, status: 'captured' }
  }

  async refundPayment(paymentSessionData) {
    return paymentSessionData
  }

  async cancelPayment(paymentSessionData) {
    return { ...paymentSessionData, status: PaymentSessionStatus.CANCELED }
  }

  async deletePayment(paymentSessionData) {
    return paymentSessionData
  }

  async retrievePayment(paymentSessionData) {
    return paymentSessionData
  }
}

exports.default = E2ePaymentProcessor
