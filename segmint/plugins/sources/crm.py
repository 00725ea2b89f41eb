"""The built-in ``crm`` source: contact and company CSV exports of HubSpot or Salesforce,
joined contact-to-company so firmographics (industry, employees, annual revenue, country)
sit on each customer's profile.

A `Flavor` holds a vendor's export column names and what segmint calls them; the ``columns``
and ``company_columns`` options change or extend that mapping, and columns no mapping names
are kept under their snake_case name (``company_`` in front for company columns).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import PluginContext, Source

from segmint.plugins.sources.csv import _one_character
from segmint.plugins.sources.exports import ExportFile, convert, drop_rows, snake_case
from segmint.plugins.sources.file_common import (
    COLUMN_TYPES, check_column_types, check_encoding, type_name,
)


@attrs.frozen
class Flavor:
    """A CRM's export: its column names and the profile columns they become."""

    contact_key: str  # the contacts column that is the customer key by default
    company_ref: str  # the contacts column naming the contact's company
    company_id: str  # the companies column the reference points to
    contacts: dict[str, str]
    companies: dict[str, str]


FLAVORS = {
    "hubspot": Flavor(
        contact_key="Email",
        company_ref="Associated Company IDs",
        company_id="Record ID",
        contacts={
            "Record ID": "crm_id", "First Name": "first_name", "Last Name": "last_name",
            "Email": "email", "Phone Number": "phone", "Lifecycle Stage": "lifecycle_stage",
            "Lead Status": "lead_status", "Create Date": "created_at",
            "Last Activity Date": "last_activity_at", "Contact owner": "owner",
            "Country/Region": "country",
        },
        companies={
            "Record ID": "company_id", "Company name": "company", "Company Domain Name": "domain",
            "Industry": "industry", "Number of Employees": "employees",
            "Annual Revenue": "annual_revenue", "Country/Region": "country", "City": "city",
        },
    ),
    "salesforce": Flavor(
        contact_key="Email",
        company_ref="Account ID",
        company_id="Account ID",
        contacts={
            "Contact ID": "crm_id", "First Name": "first_name", "Last Name": "last_name",
            "Email": "email", "Phone": "phone", "Title": "title", "Lead Source": "lead_source",
            "Mailing Country": "mailing_country", "Created Date": "created_at",
        },
        companies={
            "Account ID": "company_id", "Account Name": "company", "Website": "domain",
            "Industry": "industry", "Employees": "employees", "Annual Revenue": "annual_revenue",
            "Billing Country": "country", "Billing City": "city", "Type": "account_type",
        },
    ),
}
#: Types of the profile columns, unless the ``types`` option says otherwise; the other
#: columns are typed by inspection, as the ``csv`` source types them (`text_types`).
DEFAULT_TYPES = {"employees": "int", "annual_revenue": "float", "crm_id": "string",
                 "company_id": "string", "email": "string", "phone": "string"}


@attrs.frozen
class CrmOptions:
    """Options of the ``crm`` source."""

    contacts: Path = attrs.field(metadata={"help": "the contacts export (CSV)"})
    flavor: Literal["hubspot", "salesforce"] = attrs.field(
        default="hubspot", metadata={"help": "whose export it is: hubspot or salesforce"})
    companies: Path | None = attrs.field(
        default=None, metadata={"help": "the companies (Salesforce: accounts) export (CSV)"})
    key_column: str | None = attrs.field(
        default=None, metadata={"help": "the contacts column holding the customer key (default: Email)"})
    columns: dict[str, str] = attrs.field(
        factory=dict, metadata={"help": "contacts export column → profile column name, over the flavor's"})
    company_columns: dict[str, str] = attrs.field(
        factory=dict, metadata={"help": "companies export column → profile column name, over the flavor's"})
    company_ref: str | None = attrs.field(
        default=None, metadata={"help": "the contacts column naming the company (default: the flavor's)"})
    company_id: str | None = attrs.field(
        default=None, metadata={"help": "the companies column it refers to (default: the flavor's)"})
    types: dict[str, str] = attrs.field(
        factory=dict, validator=check_column_types,
        metadata={"help": "profile column types (employees = int, annual_revenue = float by"
                          " default; other columns are guessed from their values)"})
    encoding: str = attrs.field(default="utf-8", validator=check_encoding,
                                metadata={"help": "the exports' text encoding"})
    delimiter: str | None = attrs.field(default=None, validator=_one_character,
                                        metadata={"help": 'the field separator (",")'})


class CrmSource(Source):
    """Customer profiles from a CRM's contact export, with their company's firmographics."""

    name = "crm"
    description = "HubSpot or Salesforce contact and company CSV exports, joined"
    Options = CrmOptions
    skips_bad_rows = True
    types_option = "types"

    def __init__(self, source_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(source_name, options, context)
        flavor = FLAVORS[options.flavor]
        self.key_column = options.key_column or flavor.contact_key
        self.company_ref = options.company_ref or flavor.company_ref
        self.company_id = options.company_id or flavor.company_id
        self.contact_names = {**flavor.contacts, **options.columns}
        self.company_names = {**flavor.companies, **options.company_columns}
        self.types = {**DEFAULT_TYPES, **options.types}
        self._guesses: dict[str, dict[str, pa.DataType]] = {}

    def _file(self, path: Path, key: str) -> ExportFile:
        return ExportFile(self, path, key, encoding=self.options.encoding, delimiter=self.options.delimiter)

    def _contacts(self) -> ExportFile:
        return self._file(self.options.contacts, self.key_column)

    def _companies(self) -> ExportFile | None:
        if self.options.companies is None:
            return None
        return self._file(self.options.companies, self.company_id)

    def _layout(self) -> list[tuple[str, str, str]]:
        """(file, export column, profile column) of every column, key first."""
        key = self.context.key
        layout = [("contacts", self.key_column, key)]
        seen = {key}
        contacts = self._contacts().header()
        if self._companies() is not None and self.company_ref not in contacts:
            raise self._contacts().error(
                f"no column '{self.company_ref}' to join companies on (columns: {', '.join(contacts)});"
                " set company_ref")
        for column in contacts:
            name = self.contact_names.get(column) or snake_case(column)
            if column == self.company_ref and self._companies() is not None:
                continue
            if name not in seen:
                layout.append(("contacts", column, name))
                seen.add(name)
        companies = self._companies()
        if companies is not None:
            for column in companies.header():
                name = self.company_names.get(column) or "company_" + snake_case(column)
                if name in seen and not name.startswith("company_"):
                    name = "company_" + name  # the contact's own country wins the plain name
                if name not in seen:
                    layout.append(("companies", column, name))
                    seen.add(name)
        return layout

    def schema(self) -> pa.Schema:
        """Column names from the exports' headers; types from ``types``, else guessed from
        the first block of values, as the ``csv`` source guesses them."""
        return pa.schema([(name, COLUMN_TYPES[self._type(part, column, name)])
                          for part, column, name in self._layout()])

    def _guessed(self, part: str) -> dict[str, pa.DataType]:
        if part not in self._guesses:
            file = self._contacts() if part == "contacts" else self._companies()
            self._guesses[part] = file.guessed_types() if file is not None else {}
        return self._guesses[part]

    def _type(self, part: str, column: str, name: str) -> str:
        """The ``types`` name of a profile column: the key is text, then the option's type,
        the flavor's default, the type guessed from the export's values."""
        if name == self.context.key or column == (self.company_id if part == "companies"
                                                  else self.company_ref):
            return "string"
        if name in self.types:
            return self.types[name]
        return type_name(self._guessed(part).get(column, pa.string()))

    def read(self, columns: list[str] | None = None) -> pa.Table:
        layout = self._layout()
        contacts, numbers = self._contacts().read()
        table = {}
        for part, column, name in layout:
            if part == "contacts":
                table[name] = contacts.column(column)
        typed = [(c, n) for p, c, n in layout if p == "contacts" and n != self.context.key]
        result, bad = self._convert(self._contacts(), "contacts", pa.table(table), typed, numbers)
        companies = self._companies()
        if companies is not None:
            result = self._join(result, contacts, layout, companies)
        result, _ = drop_rows(result, numbers, bad)
        if columns is not None:
            result = result.select(list(dict.fromkeys([self.context.key, *columns])))
        return result

    def _join(self, result: pa.Table, contacts: pa.Table, layout: list[tuple[str, str, str]],
              companies: ExportFile) -> pa.Table:
        """Each contact's company (HubSpot lists several ids, ``;``-separated: the first is
        the primary one) joined on the company id."""
        firms, numbers = companies.read()
        wanted = [(c, n) for p, c, n in layout if p == "companies"]
        firm_table, bad = self._convert(companies, "companies",
                                        pa.table({n: firms.column(c) for c, n in wanted}),
                                        wanted, numbers)
        firm_table, _ = drop_rows(firm_table, numbers, bad)
        ids = firms.column(self.company_id)
        if bad:
            ids = ids.filter(pa.array([i not in bad for i in range(len(ids))]))
        refs = pc.utf8_trim_whitespace(pc.list_element(
            pc.split_pattern(pc.fill_null(contacts.column(self.company_ref), ""), ";"), 0))
        position = pc.index_in(refs, value_set=pc.utf8_trim_whitespace(ids).combine_chunks())
        for name in firm_table.column_names:
            result = result.append_column(name, firm_table.column(name).take(position))
        return result

    def _convert(self, file: ExportFile, part: str, table: pa.Table, columns: list[tuple[str, str]],
                 numbers: list[int]) -> tuple[pa.Table, set[int]]:
        """`table` (text read from `file`) with the profile columns of (export column, profile
        column) `columns` converted to their types; and the rows of bad cells."""
        bad: set[int] = set()
        for column, name in columns:
            kind = self._type(part, column, name)
            if kind != "string":
                table, cells = convert(file, table, name, kind, numbers, source_column=column,
                                       guessed=None if name in self.types else ("types", name))
                bad |= cells
        return table, bad


@hookimpl
def register_sources() -> list[type]:
    return [CrmSource]


__all__ = ["FLAVORS", "CrmOptions", "CrmSource", "Flavor"]
