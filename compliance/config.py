"""Compliance settings (environment variables prefixed KIBETI_COMPLIANCE_). Thresholds and goAML
codes marked [U] in COMPLIANCE.md are here so the MLRO can change them without a release."""

from __future__ import annotations

from decimal import Decimal

from pydantic_settings import BaseSettings, SettingsConfigDict


class ComplianceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIBETI_COMPLIANCE_", env_file=".env", extra="ignore")

    rentity_id: str = "0000"  # FRC-issued reporting entity id
    rentity_branch: str = ""
    institution_name: str = "Kibeti"
    mlro_first_name: str = "Money Laundering"
    mlro_last_name: str = "Reporting Officer"
    mlro_email: str = "mlro@kibeti.example"
    mlro_phone: str = "+254700000000"
    mlro_occupation: str = "MLRO"
    address: str = "Kibeti House, Moi Avenue"
    city: str = "Nairobi"
    country_code: str = "KE"
    ctr_threshold_kes: Decimal = Decimal("1940000")  # about USD 15,000 per customer per day [U]
    # goAML code lists (FRC KE customisation, schema v4.0.2): confirm against the FRC PDF [U]
    transmode_mobile_money: str = "MM01"
    transmode_crypto: str = "EFT01"
    funds_code: str = "E"
    identifier_type_national_id: str = "A"
    address_type: str = "B"  # business
    phone_contact_type: str = "B"
    phone_communication_type: str = "M"  # mobile
    mpesa_institution: str = "Safaricom M-PESA"
    # Identity registry (IPRS): "simulator" (development and tests: any well-formed ID matches unless
    # registered otherwise) or "none" (every identity goes to staff). Never simulated in production.
    iprs: str = "simulator"
    # A movement held for review and not decided within this many hours is refused (SMS sent).
    review_expiry_hours: int = 72
